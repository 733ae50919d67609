"""Relatedness between a page and a candidate target, learnt from the dump alone.

mwaddlink uses the cosine of 50-dimensional wikipedia2vec title vectors. wikipedia2vec needs the whole
wiki, many CPU-hours and a C extension, and on a sample dump most link targets are not pages of the
dump, so they would get no vector at all. Instead a target is described by the words of the articles
that link to it ("what pages linking here talk about"), plus its own text when it is an article of
the dump:

- a page becomes a signed feature-hashed TF-IDF vector of its words (``DIM`` dimensions, unit length);
  words are ``\\w+`` runs lowercased, and in spaceless scripts (CJK, kana, Thai, ...) character bigrams,
  so no tokenizer or language model is needed;
- a target's vector is the normalised sum of the vectors of the training articles linking to it;
- relatedness is the cosine of the two, in [-1, 1] (0 when either is empty).

Every target seen in training gets a vector (even from a single linking article), the cost is one
small matrix product per page, and the tables are plain arrays that memory-map.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np

from scoring.stringtable import stable_hash

__all__ = ["DIM", "IDF_BUCKETS", "DocumentFrequencies", "TargetContexts", "Vectoriser", "word_hashes"]

DIM = 128
IDF_BUCKETS = 1 << 18
_DIM_SHIFT = 32 - int(math.log2(DIM))
_SPACELESS = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0f00-\u0fff"
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
    """Hashes and counts of the character bigrams inside each run, computed on code points with
    numpy (a Japanese article has tens of thousands of them; a Python loop would dominate scoring)."""
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


def _buckets(hashes: np.ndarray) -> np.ndarray:
    return (hashes >> np.uint32(1)) & np.uint32(IDF_BUCKETS - 1)


class DocumentFrequencies:
    """Training-time counter of how many articles contain each (hashed) word."""

    def __init__(self) -> None:
        self.documents = 0
        self._df = np.zeros(IDF_BUCKETS, dtype=np.int64)

    def add(self, text: str) -> None:
        hashes, _ = word_hashes(text)
        self._df[np.unique(_buckets(hashes))] += 1
        self.documents += 1

    def idf(self) -> np.ndarray:
        """Smoothed inverse document frequency per bucket, float32: ln((1 + N) / (1 + df))."""
        return np.log((1.0 + self.documents) / (1.0 + self._df)).astype(np.float32)


class Vectoriser:
    """Turns a page's text into its unit-length hashed TF-IDF vector (float32, ``DIM`` values)."""

    def __init__(self, idf: np.ndarray) -> None:
        if idf.shape != (IDF_BUCKETS,):
            raise ValueError(f"idf table has shape {idf.shape}, expected ({IDF_BUCKETS},)")
        self._idf = idf

    def page_vector(self, text: str) -> np.ndarray:
        hashes, tf = word_hashes(text)
        if not hashes.size:
            return np.zeros(DIM, dtype=np.float32)
        weights = (1.0 + np.log(tf)) * self._idf[_buckets(hashes)]
        weights = np.where(hashes & np.uint32(1), weights, -weights)
        vector = np.bincount(hashes >> np.uint32(_DIM_SHIFT), weights=weights, minlength=DIM).astype(np.float32)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 else vector


def cosine_rows(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Dot product of each (unit-length or zero) row with ``vector``, float32."""
    return (np.asarray(matrix, dtype=np.float32) @ vector).astype(np.float32)


class TargetContexts:
    """Training-time sums of the vectors of the articles linking to each target."""

    def __init__(self, targets: int) -> None:
        self.sums = np.zeros((targets, DIM), dtype=np.float32)

    def add(self, target_ids: np.ndarray, page_vector: np.ndarray) -> None:
        """Add one article's vector to each of ``target_ids`` (each id once)."""
        self.sums[np.unique(target_ids)] += page_vector

    def leave_one_out(self, target_ids: np.ndarray, page_vector: np.ndarray, contributed: np.ndarray) -> np.ndarray:
        """Relatedness of ``page_vector`` to each target as if the page had not been part of training:
        the page's own vector is taken out of the sums where ``contributed`` is True."""
        sums = self.sums[target_ids] - np.where(contributed[:, None], page_vector[None, :], 0.0)
        norms = np.linalg.norm(sums, axis=1)
        dots = sums @ page_vector
        # Below 1e-4 the sum is the page itself minus float noise: no context left.
        return np.where(norms > 1e-4, dots / np.maximum(norms, 1e-12), 0.0).astype(np.float32)

    def unit_vectors(self) -> np.ndarray:
        """The published table: each sum scaled to unit length (zero rows stay zero), float16."""
        norms = np.linalg.norm(self.sums, axis=1, keepdims=True)
        return np.divide(self.sums, norms, out=np.zeros_like(self.sums), where=norms > 0).astype(np.float16)
