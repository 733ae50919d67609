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
from functools import cache

import numpy as np

from scoring import native

__all__ = ["DIM", "IDF_BUCKETS", "DocumentFrequencies", "TargetContexts", "Vectoriser", "word_hashes"]

DIM = 128
IDF_BUCKETS = 1 << 18
_DIM_SHIFT = 32 - int(math.log2(DIM))
_SPACELESS = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0f00-\u0fff"
# A page's words: runs of one of these classes, spaceless scripts (group 1) or letters (group 2,
# kept from 2 characters on); word_hashes says how they are counted.
_CLASSES = f"([{_SPACELESS}]+)|([^\\W\\d_{_SPACELESS}]+)"


# Planes 4-13 hold no assigned code point and planes 15-16 only private use (no letters), so the
# classes are read from these ranges alone; tests/unit/test_features.py checks every code point.
_CLASSIFIED = ((0, 0x40000), (0xE0000, 0xE1000))


@cache
def _word_classes() -> native.WordClasses:
    """The native engine's code point classes, read with Python's own regular expression so that the
    Unicode rules are Python's: 1 = a letter (``_CLASSES`` group 2), 2 = a spaceless script (group 1)."""
    classes = re.compile(_CLASSES)
    ranges = []
    for first, end in _CLASSIFIED:
        points = "".join(map(chr, range(first, end)))
        ranges.extend((first + m.start(), first + m.end(), 2 if m.group(1) else 1) for m in classes.finditer(points))
    return native.WordClasses(ranges)


def word_hashes(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(hash, count) of every distinct word of ``text``: lowercased letter runs of 2+ characters
    (``stable_hash`` of the UTF-8, in order of first occurrence), then the character bigrams of
    spaceless-script runs (in key order), counted in the native engine. tests/unit/oracle_relatedness.py
    is the Python definition it must equal."""
    hashes, counts = _word_classes().word_hashes(text.lower())
    return np.frombuffer(hashes, dtype=np.uint32), np.frombuffer(counts, dtype=np.float32)


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
