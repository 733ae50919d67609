"""Feature columns of a (page, mention, candidate target) row, and their computation for a whole page.

The first six are mwaddlink's (reference mwaddlink.md §2.6); the rest add what a dump alone can tell:

    ngram            word tokens in the anchor (tokenize.word_spans)
    freq             source articles linking the anchor to the target
    ambig            distinct targets of the anchor
    kurtosis         padded excess kurtosis of the anchor's counts (NaN = missing, as mwaddlink)
    relatedness      cosine of page and target context vectors (relatedness.py; replaces wikipedia2vec)
    jaro             Jaro similarity of the anchor and the lowercased target title (rapidfuzz)
    commonness       freq / sum of the anchor's counts: P(target | anchor)
    link_prob        how often the anchor text is a link where it appears: P(link | anchor)
    target_articles  training articles linking to the target (popularity)
    target_known     1 if the target is an article of the training dump
    rank             position of the target among the anchor's candidates (0 = most frequent)
    position         offset of the mention / length of the wikitext (0 = top of the page)
    capitalised      1 if the mention's first character is uppercase as written

Training computes the same columns with the page itself left out of every count (train.py), so the
two paths meet in ``FeatureColumns``, whose field order is the column order of the model.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields

import numpy as np

from scoring.anchors import Anchors
from scoring.relatedness import cosine_rows
from scoring.targets import Targets

__all__ = ["FEATURES", "MAX_CANDIDATES", "CandidateBatch", "FeatureColumns", "candidate_rows", "page_candidates"]

MAX_CANDIDATES = 10


@dataclass(frozen=True)
class FeatureColumns:
    """One array per feature, all of the same length (one entry per candidate row)."""

    ngram: np.ndarray
    freq: np.ndarray
    ambig: np.ndarray
    kurtosis: np.ndarray
    relatedness: np.ndarray
    jaro: np.ndarray
    commonness: np.ndarray
    link_prob: np.ndarray
    target_articles: np.ndarray
    target_known: np.ndarray
    rank: np.ndarray
    position: np.ndarray
    capitalised: np.ndarray

    def matrix(self) -> np.ndarray:
        """The float32 model input, shape (rows, len(FEATURES)), C-contiguous."""
        return np.ascontiguousarray(np.column_stack([np.asarray(c, dtype=np.float32) for c in astuple(self)]))


FEATURES: tuple[str, ...] = tuple(f.name for f in fields(FeatureColumns))


@dataclass(frozen=True)
class CandidateBatch:
    """Every candidate row of a page: which mention it belongs to, its target and its features.
    Rows of one mention are contiguous and ordered by rank."""

    mention: np.ndarray  # int32 index into the caller's mention list
    target: np.ndarray  # int32 target id
    features: np.ndarray  # float32 (rows, len(FEATURES))


def candidate_rows(
    anchors: Anchors, anchor_index: np.ndarray, limit: int = MAX_CANDIDATES
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, owner, rank) for the top ``limit`` candidates of each anchor, vectorised: ``owner`` is the
    position in ``anchor_index`` a row belongs to."""
    starts = np.asarray(anchors.offsets[anchor_index], dtype=np.int64)
    ends = np.minimum(np.asarray(anchors.offsets[anchor_index + 1], dtype=np.int64), starts + limit)
    lengths = ends - starts
    owner = np.repeat(np.arange(len(anchor_index), dtype=np.int32), lengths)
    first = np.cumsum(lengths) - lengths
    rank = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(first, lengths)
    return np.repeat(starts, lengths) + rank, owner, rank


def page_candidates(
    anchors: Anchors,
    targets: Targets,
    page_vector: np.ndarray,
    anchor_index: np.ndarray,
    position: np.ndarray,
    capitalised: np.ndarray,
) -> CandidateBatch:
    """Features of the top candidates of every mention of a page in one go.

    ``anchor_index``, ``position`` and ``capitalised`` have one entry per mention (anchor index in
    ``anchors``, relative offset in the page, 1/0)."""
    anchor_index = np.asarray(anchor_index, dtype=np.int64)
    rows, owner, rank = candidate_rows(anchors, anchor_index)
    anchor = anchor_index[owner]
    target = np.asarray(anchors.target[rows], dtype=np.int32)
    freq = np.asarray(anchors.count[rows], dtype=np.float32)
    ambig = (np.asarray(anchors.offsets[anchor + 1]) - np.asarray(anchors.offsets[anchor])).astype(np.float32)
    columns = FeatureColumns(
        ngram=anchors.ngram[anchor],
        freq=freq,
        ambig=ambig,
        kurtosis=anchors.kurtosis[anchor],
        relatedness=cosine_rows(targets.vectors[target], page_vector),
        jaro=anchors.jaro[rows],
        commonness=freq / np.maximum(np.asarray(anchors.total[anchor], dtype=np.float32), 1.0),
        link_prob=anchors.link_prob[anchor],
        target_articles=targets.articles[target],
        target_known=targets.known[target],
        rank=rank,
        position=np.asarray(position, dtype=np.float32)[owner],
        capitalised=np.asarray(capitalised, dtype=np.float32)[owner],
    )
    return CandidateBatch(mention=owner, target=target, features=columns.matrix())
