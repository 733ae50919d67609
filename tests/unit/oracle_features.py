"""scoring.features.page_candidates as it ran before the native engine (numpy over the bundle's
arrays, and recommend's Python loop dropping mentions with a candidate already linked): the oracle
the native feature rows are compared with."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from scoring.anchors import REDIRECT_SOURCE, TITLE_SOURCE, Anchors
from scoring.features import MAX_CANDIDATES, CandidateBatch, FeatureColumns
from scoring.relatedness import cosine_rows
from scoring.targets import Targets


def candidate_rows(
    anchors: Anchors, anchor_index: np.ndarray, limit: int = MAX_CANDIDATES
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    starts = np.asarray(anchors.offsets[anchor_index], dtype=np.int64)
    ends = np.minimum(np.asarray(anchors.offsets[anchor_index + 1], dtype=np.int64), starts + limit)
    lengths = ends - starts
    owner = np.repeat(np.arange(len(anchor_index), dtype=np.int32), lengths)
    first = np.cumsum(lengths) - lengths
    rank = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(first, lengths)
    return np.repeat(starts, lengths) + rank, owner, rank


def page_candidates(anchors: Anchors, targets: Targets, page_vector: np.ndarray, anchor_index: np.ndarray,
                    position: np.ndarray, capitalised: np.ndarray, linked: Iterable[int] = ()) -> CandidateBatch:
    linked = set(linked)
    kept = np.array(
        [i for i, a in enumerate(np.asarray(anchor_index, dtype=np.int64).tolist())
         if not any(t in linked for t in anchors.target[anchors.offsets[a] : anchors.offsets[a + 1]].tolist())],
        dtype=np.int32,
    )
    anchor_index = np.asarray(anchor_index, dtype=np.int64)[kept]
    rows, owner, rank = candidate_rows(anchors, anchor_index)
    anchor = anchor_index[owner]
    target = np.asarray(anchors.target[rows], dtype=np.int32)
    freq = np.asarray(anchors.count[rows], dtype=np.float32)
    source = np.asarray(anchors.source[rows], dtype=np.int8)
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
        position=np.asarray(position, dtype=np.float32)[kept][owner],
        capitalised=np.asarray(capitalised, dtype=np.float32)[kept][owner],
        title_anchor=(source & TITLE_SOURCE) != 0,
        redirect_anchor=(source & REDIRECT_SOURCE) != 0,
    )
    return CandidateBatch(kept=kept, mention=owner, target=target, features=columns.matrix())
