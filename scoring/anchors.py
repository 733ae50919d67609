"""The anchor dictionary, memory-mapped: ``{lowercased anchor: {target id: number of source articles}}``
plus the per-anchor and per-(anchor, target) numbers the features need.

Files in the bundle directory (all ``.npy``, opened with ``mmap_mode="r"``):

    anchors.fst             FST (native engine): anchor key -> anchor index, walked token by token
    anchor_link_prob.npy    float32 per anchor: links / (links + unlinked plain-text occurrences)
    anchor_kurtosis.npy     float32 per anchor: mwaddlink's padded kurtosis of its counts (NaN allowed)
    anchor_ngram.npy        float32 per anchor: number of word tokens in the anchor
    anchor_total.npy        int32 per anchor: sum of its candidates' counts
    candidate_offsets.npy   int64, anchor ``i``'s candidates are rows ``[offsets[i], offsets[i + 1])``
    candidate_target.npy    int32 target id, rows sorted by count (descending), then title
    candidate_count.npy     int32 number of source articles linking the anchor to the target
    candidate_jaro.npy      float32 Jaro similarity of the anchor and the lowercased target title
    candidate_source.npy    int8 where the candidate comes from, bits: ``TITLE_SOURCE`` (the anchor is
                            the target's own title) and ``REDIRECT_SOURCE`` (the anchor is the title of
                            a redirect to the target); 0 for an anchor only ever linked to the target

Besides the anchors the training articles link, every article title and every redirect title of the
dump is a candidate for its own text (``normalise_anchor(title)`` -> the article, a redirect resolved
one hop), with count 0 when never linked (train.py). Each title adds at most one candidate row and
one anchor, so at enwiki's size (17 M main-namespace titles, redirects included) the dictionary grows
by at most 17 M rows; scoring still reads at most ``features.MAX_CANDIDATES`` rows per anchor.

Everything that depends only on the dictionary is computed here, at training time, so scoring a
candidate costs array reads, not Python calls.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rapidfuzz.distance import Jaro

from scoring import native
from scoring.titles import normalise_anchor

__all__ = ["ANCHOR_FILES", "REDIRECT_SOURCE", "TITLE_SOURCE", "AnchorSet", "Anchors", "candidate_source",
           "is_number_anchor", "padded_kurtosis", "source_flags", "write_anchors"]

_ARRAYS = (
    "anchor_link_prob",
    "anchor_kurtosis",
    "anchor_ngram",
    "anchor_total",
    "candidate_offsets",
    "candidate_target",
    "candidate_count",
    "candidate_jaro",
    "candidate_source",
)
ANCHOR_FILES = _ARRAYS
ANCHOR_INDEX_FILE = "anchors.fst"
_KURTOSIS_LENGTH = 1000
# mwaddlink drops anchors that are only a number or a number pair ("1821", "3/4", "1990-1995").
_NUMBER_ANCHOR = re.compile(r"[0-9]+(?:[/-][0-9]+)?")
TITLE_SOURCE = 1
REDIRECT_SOURCE = 2


def is_number_anchor(key: str) -> bool:
    """True for the anchors mwaddlink never keeps: ``^[0-9]+$`` and ``^[0-9]+[/-][0-9]+$``."""
    return _NUMBER_ANCHOR.fullmatch(key) is not None


def padded_kurtosis(counts: Sequence[int] | np.ndarray) -> float:
    """mwaddlink's ``kurtosis`` feature: excess kurtosis (Fisher, biased) of the counts padded with ones
    to 1000 values (no padding beyond); NaN when all values are equal (e.g. every count is 1)."""
    values = np.asarray(counts, dtype=np.float64)
    n = max(_KURTOSIS_LENGTH, values.size)
    ones = n - values.size
    mean = (values.sum() + ones) / n
    dev = values - mean
    m2 = (np.sum(dev**2) + ones * (1.0 - mean) ** 2) / n
    m4 = (np.sum(dev**4) + ones * (1.0 - mean) ** 4) / n
    if m2 <= 1e-12 * max(1.0, mean * mean):
        return float("nan")
    return float(m4 / (m2 * m2) - 3.0)


def candidate_source(key: str, target_title: str, redirected: bool) -> int:
    """The ``candidate_source`` bits of anchor ``key`` and a target: whether ``key`` is the target's own
    title, and whether it is the title of a redirect to it (``redirected``, known from the dump)."""
    return (TITLE_SOURCE if normalise_anchor(target_title) == key else 0) | (REDIRECT_SOURCE if redirected else 0)


def source_flags(source: int) -> tuple[int, int]:
    """The ``title_anchor`` and ``redirect_anchor`` feature values (0/1) of ``candidate_source`` bits."""
    return int(source & TITLE_SOURCE != 0), int(source & REDIRECT_SOURCE != 0)


@dataclass(frozen=True)
class AnchorSet:
    """One anchor's entry as written: candidates are (target id, count), any order; ``redirected``
    holds the targets that a redirect titled ``key`` points to."""

    key: str
    link_prob: float
    ngram: int
    candidates: Sequence[tuple[int, int]]
    redirected: frozenset[int] = frozenset()


def write_anchors(directory: Path, anchors: Sequence[AnchorSet], target_titles: Sequence[str]) -> list[Path]:
    """Write the dictionary files; returns their paths. ``target_titles[i]`` is the title of target ``i``."""
    offsets = np.zeros(len(anchors) + 1, dtype=np.int64)
    targets: list[int] = []
    counts: list[int] = []
    jaro: list[float] = []
    source: list[int] = []
    kurtosis = np.empty(len(anchors), dtype=np.float32)
    total = np.empty(len(anchors), dtype=np.int32)
    for i, entry in enumerate(anchors):
        ranked = sorted(entry.candidates, key=lambda tc: (-tc[1], target_titles[tc[0]]))
        targets.extend(t for t, _ in ranked)
        counts.extend(c for _, c in ranked)
        jaro.extend(Jaro.similarity(entry.key, target_titles[t].lower()) for t, _ in ranked)
        source.extend(candidate_source(entry.key, target_titles[t], t in entry.redirected) for t, _ in ranked)
        offsets[i + 1] = len(targets)
        kurtosis[i] = padded_kurtosis([c for _, c in ranked])
        total[i] = sum(c for _, c in ranked)
    arrays = {
        "anchor_link_prob": np.array([a.link_prob for a in anchors], dtype=np.float32),
        "anchor_kurtosis": kurtosis,
        "anchor_ngram": np.array([a.ngram for a in anchors], dtype=np.float32),
        "anchor_total": total,
        "candidate_offsets": offsets,
        "candidate_target": np.array(targets, dtype=np.int32),
        "candidate_count": np.array(counts, dtype=np.int32),
        "candidate_jaro": np.array(jaro, dtype=np.float32),
        "candidate_source": np.array(source, dtype=np.int8),
    }
    keys = [a.key for a in anchors]
    paths = [native.write_anchor_index(directory / ANCHOR_INDEX_FILE, keys, list(range(len(keys))))]
    for name, array in arrays.items():
        path = directory / f"{name}.npy"
        np.save(path, array, allow_pickle=False)
        paths.append(path)
    return paths


class Anchors:
    """Read-only, memory-mapped anchor dictionary; lookups touch only the pages they need."""

    def __init__(self, directory: Path) -> None:
        self.keys = native.open_anchor_index(directory / ANCHOR_INDEX_FILE)
        arrays: Mapping[str, np.ndarray] = {
            name: np.load(directory / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in _ARRAYS
        }
        self.link_prob = arrays["anchor_link_prob"]
        self.kurtosis = arrays["anchor_kurtosis"]
        self.ngram = arrays["anchor_ngram"]
        self.total = arrays["anchor_total"]
        self.offsets = arrays["candidate_offsets"]
        self.target = arrays["candidate_target"]
        self.count = arrays["candidate_count"]
        self.jaro = arrays["candidate_jaro"]
        self.source = arrays["candidate_source"]
        self._offsets_view = memoryview(self.offsets)
        # Slices of a memoryview skip numpy's per-slice memmap bookkeeping (selection reads one per mention).
        self._target_view = memoryview(self.target) if self.target.size else memoryview(b"").cast("i")

    def __len__(self) -> int:
        return len(self.keys)

    def index(self, key: str) -> int:
        """Anchor index of ``key`` (already normalised with ``titles.normalise_anchor``), or -1."""
        return self.keys.get(key)

    def __contains__(self, key: str) -> bool:
        return key in self.keys

    def candidate_rows(self, index: int, limit: int | None = None) -> range:
        """Rows of anchor ``index``'s candidates, most frequent first, at most ``limit`` of them."""
        start, end = self._offsets_view[index], self._offsets_view[index + 1]
        if limit is not None:
            end = min(end, start + limit)
        return range(start, end)

    def candidate_targets(self, index: int) -> list[int]:
        """Target ids of every candidate of anchor ``index``, most frequent first."""
        return self._target_view[self._offsets_view[index] : self._offsets_view[index + 1]].tolist()

    def candidates(self, key: str) -> dict[int, int] | None:
        """Not for hot paths: ``{target id: count}`` of ``key`` as a dict, or None when absent."""
        index = self.index(key)
        if index < 0:
            return None
        rows = self.candidate_rows(index)
        return dict(zip(self.target[rows.start : rows.stop].tolist(), self.count[rows.start : rows.stop].tolist()))
