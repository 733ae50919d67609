"""scoring.relatedness.word_hashes as it ran before the native engine (a regular expression, a
Counter and a Python hash per word): the oracle the native word hashing is compared with."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from scoring.relatedness import _SPACELESS
from scoring.stringtable import stable_hash

_TOKENS = re.compile(f"([{_SPACELESS}]+)|([^\\W\\d_{_SPACELESS}]{{2,}})")


def _split(text: str) -> tuple[list[str], list[str]]:
    """(words, spaceless-script runs) of the lowercased text."""
    words, runs = [], []
    for run, word in _TOKENS.findall(text.lower()):
        if word:
            words.append(word)
        else:
            runs.append(run)
    return words, runs


def _bigram_hashes(runs: list[str]) -> tuple[np.ndarray, np.ndarray]:
    if not runs:
        return np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.float32)
    points = np.frombuffer("\0".join(runs).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    pairs = (points[:-1] << np.uint64(21)) | points[1:]
    pairs = pairs[(points[:-1] != 0) & (points[1:] != 0)]
    keys, counts = np.unique(pairs, return_counts=True)
    hashes = ((keys * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)).astype(np.uint32)
    return hashes, counts.astype(np.float32)


def word_hashes(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(hash, count) of every distinct word of ``text``: lowercased letter runs of 2+ characters, and
    character bigrams in spaceless scripts."""
    words, runs = _split(text)
    counts = Counter(words)
    word_h = np.fromiter((stable_hash(w.encode("utf-8")) for w in counts), dtype=np.uint32, count=len(counts))
    word_tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
    bigram_h, bigram_tf = _bigram_hashes(runs)
    return np.concatenate([word_h, bigram_h]), np.concatenate([word_tf, bigram_tf])
