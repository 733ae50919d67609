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
    title_anchor     1 if the anchor is the target's own title (normalised like anchors)
    redirect_anchor  1 if the anchor is the title of a redirect to the target

The last two say where a candidate comes from: an anchor the articles link (freq > 0), a title or a
redirect title that is a candidate for its own text (freq 0 when never linked; anchors.py), or both.
Two flags rather than one "source" value because the sources overlap: most linked anchors of an
article are also its title, and a single value would hide one of the two facts.

Training computes the same columns with the page itself left out of every count (train.py), so the
two paths meet in ``FeatureColumns``, whose field order is the column order of the model.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import astuple, dataclass, fields

import numpy as np

from scoring import native
from scoring.anchors import Anchors
from scoring.relatedness import cosine_rows
from scoring.targets import Targets

__all__ = ["FEATURES", "MAX_CANDIDATES", "CandidateBatch", "FeatureColumns", "feature_tables", "join_batches",
           "page_candidates"]

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
    title_anchor: np.ndarray
    redirect_anchor: np.ndarray

    def matrix(self) -> np.ndarray:
        """The float32 model input, shape (rows, len(FEATURES)), C-contiguous."""
        return np.ascontiguousarray(np.column_stack([np.asarray(c, dtype=np.float32) for c in astuple(self)]))


FEATURES: tuple[str, ...] = tuple(f.name for f in fields(FeatureColumns))


@dataclass(frozen=True)
class CandidateBatch:
    """Every candidate row of a page: which mention it belongs to, its target and its features.
    Rows of one mention are contiguous and ordered by rank."""

    kept: np.ndarray  # int32 index into the caller's mention list of each mention kept, in order
    mention: np.ndarray  # int32 index into ``kept``
    target: np.ndarray  # int32 target id
    features: np.ndarray  # float32 (rows, len(FEATURES))


def join_batches(first: CandidateBatch, second: CandidateBatch, offset: int) -> CandidateBatch:
    """``second``'s rows after ``first``'s, as one batch over the caller's two mention lists put end
    to end (``offset``: the length of the list ``first.kept`` indexes)."""
    return CandidateBatch(
        kept=np.concatenate([first.kept, second.kept + offset]).astype(np.int32),
        mention=np.concatenate([first.mention, second.mention + len(first.kept)]).astype(np.int32),
        target=np.concatenate([first.target, second.target]).astype(np.int32),
        features=np.concatenate([first.features, second.features]),
    )


def feature_tables(anchors: Anchors, targets: Targets) -> native.FeatureTables:
    """The native engine's view of a bundle's anchor and target arrays (no copy; build once per bundle)."""
    return native.FeatureTables(
        offsets=anchors.offsets, target=anchors.target, count=anchors.count, jaro=anchors.jaro,
        ngram=anchors.ngram, kurtosis=anchors.kurtosis, total=anchors.total, link_prob=anchors.link_prob,
        source=anchors.source, articles=targets.articles, known=targets.known,
    )


_RELATEDNESS = FEATURES.index("relatedness")


def page_candidates(
    tables: native.FeatureTables,
    targets: Targets,
    page_vector: np.ndarray,
    anchor_index: np.ndarray,
    position: np.ndarray,
    capitalised: np.ndarray,
    linked: Iterable[int] = (),
) -> CandidateBatch:
    """Features of the top ``MAX_CANDIDATES`` candidates of every mention of a page, in one native call.

    ``anchor_index``, ``position`` and ``capitalised`` have one entry per mention (anchor index,
    relative offset in the page, 1/0). A mention one of whose candidates (any of them, not only the
    top ones) is in ``linked`` (target ids already linked on the page) is dropped. Relatedness is one
    numpy product here, as training computes it, so every column equals the former numpy path's
    exactly (tests/unit/oracle_features.py)."""
    kept, mention, target, features = tables.rows(
        np.ascontiguousarray(anchor_index, dtype=np.int64),
        np.ascontiguousarray(position, dtype=np.float32),
        np.ascontiguousarray(capitalised, dtype=np.float32),
        np.array(sorted(linked), dtype=np.int32),
        limit=MAX_CANDIDATES,
    )
    target = np.frombuffer(target, dtype=np.int32)
    matrix = np.frombuffer(features, dtype=np.float32).reshape(len(target), len(FEATURES)).copy()
    matrix[:, _RELATEDNESS] = cosine_rows(targets.vectors[target], page_vector)
    return CandidateBatch(
        kept=np.frombuffer(kept, dtype=np.int32), mention=np.frombuffer(mention, dtype=np.int32), target=target,
        features=matrix,
    )
