"""Training rows: the candidates the scorer would see on each training article, labelled by its links.

For a training article P (links already turned into text, as in the backtest), every mention the
scorer would consider yields one row per top-10 candidate, label 1 when P links that anchor to that
target. Every number describing the dictionary is computed *as if P had not been in training*
(leave-one-out): P's links are subtracted from the counts, its text from the link probability, its
vector from the target contexts. Without this, a link P itself contributed would make its own
features look stronger than they ever are on an unseen article, and the model would learn to trust
features that the backtest (and production) cannot reproduce.

A candidate added for a title's own text (anchors.py) stays a candidate whatever P's links do: it
does not depend on them. An anchor that without P would fail mwaddlink's filters keeps only such
candidates, as it would in the dictionary.

Excluded targets (over-linking control) yield no rows: the model never learns from links to them.
They stay in the dictionary and in every other row's features (rank, ambiguity, commonness), which
are what the scorer computes from the same dictionary, so training and scoring features agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import Jaro

from scoring.anchors import candidate_source, padded_kurtosis, source_flags
from scoring.corpus import ArticleSample
from scoring.features import MAX_CANDIDATES, FeatureColumns
from scoring.relatedness import TargetContexts

__all__ = ["Dictionary", "TrainingRows", "link_probability", "training_rows"]

MIN_LINK_PROBABILITY = 0.065


def link_probability(aslink: int, astext: int) -> float:
    """P(link | anchor); 0 for an anchor seen neither as a link nor as text (a title never written)."""
    seen = aslink + astext
    return aslink / seen if seen > 0 else 0.0


@dataclass(frozen=True)
class Dictionary:
    """The filtered anchor dictionary in training form (target ids index ``titles``)."""

    candidates: dict[str, dict[int, int]]  # key -> {target: source articles}
    aslink: dict[str, int]
    astext: dict[str, int]
    ngram: dict[str, int]
    titles: list[str]
    target_articles: np.ndarray
    target_known: np.ndarray
    titled: dict[str, frozenset[int]]  # key -> targets it is a candidate for as their (redirect) title
    redirected: dict[str, frozenset[int]]  # key -> targets a redirect with that text points to

    def link_prob(self, key: str) -> float:
        return link_probability(self.aslink[key], self.astext.get(key, 0))


@dataclass(frozen=True)
class TrainingRows:
    features: np.ndarray  # float32 (rows, len(FEATURES))
    labels: np.ndarray  # float32 0/1
    groups: np.ndarray  # int64, the training article each row comes from (0..articles-1): CV folds
    articles: int


class _RowBuilder:
    def __init__(self, dictionary: Dictionary, contexts: TargetContexts, excluded: frozenset[int]) -> None:
        self.d = dictionary
        self.contexts = contexts
        self.excluded = excluded
        self._kurtosis = {k: padded_kurtosis(list(c.values())) for k, c in dictionary.candidates.items()}
        self._jaro: dict[tuple[str, int], float] = {}
        self._source: dict[tuple[str, int], int] = {}
        self.columns: dict[str, list] = {name: [] for name in FeatureColumns.__dataclass_fields__}
        self.labels: list[int] = []
        self.groups: list[int] = []

    def jaro(self, key: str, target: int) -> float:
        value = self._jaro.get((key, target))
        if value is None:
            value = self._jaro[(key, target)] = Jaro.similarity(key, self.d.titles[target].lower())
        return value

    def source(self, key: str, target: int) -> int:
        value = self._source.get((key, target))
        if value is None:
            redirected = target in self.d.redirected.get(key, ())
            value = self._source[(key, target)] = candidate_source(key, self.d.titles[target], redirected)
        return value

    def add_article(self, sample: ArticleSample, group: int) -> None:
        d = self.d
        blocked = sample.existing_targets | ({sample.own_target} if sample.own_target >= 0 else set())
        for key, offset, capitalised in sample.mentions:
            if key not in d.candidates or key in sample.title_key or key in sample.existing_anchors:
                continue
            own = sample.pairs.get(key, frozenset())
            titled = d.titled.get(key, frozenset())
            counts = {t: c - (t in own) for t, c in d.candidates[key].items()}
            aslink = d.aslink[key] - sample.link_keys.get(key, 0)
            astext = max(d.astext.get(key, 0) - max(sample.occurrences.get(key, 0) - sample.top_keys.get(key, 0), 0), 0)
            # Without this article, would the anchor pass mwaddlink's filters as a linked anchor?
            passes = aslink > 1 and link_probability(aslink, astext) >= MIN_LINK_PROBABILITY
            counts = {t: c for t, c in counts.items() if (passes and c > 0) or t in titled}
            if not counts:
                continue  # without this article the anchor would not be in the dictionary
            if not blocked.isdisjoint(counts):
                continue
            ranked = sorted(counts, key=lambda t: (-counts[t], d.titles[t]))[:MAX_CANDIDATES]
            changed = bool(own) or len(counts) != len(d.candidates[key])
            added = self._add_rows(sample, key, offset, capitalised, counts, ranked, aslink, astext, changed)
            self.groups.extend([group] * added)

    def _add_rows(self, sample: ArticleSample, key: str, offset: int, capitalised: bool, counts: dict[int, int],
                  ranked: list[int], aslink: int, astext: int, changed: bool) -> int:
        """Append the rows of ``ranked`` whose target is not excluded; returns how many."""
        d, columns = self.d, self.columns
        kept = [rank for rank, target in enumerate(ranked) if target not in self.excluded]
        if not kept:
            return 0
        ids = np.array(ranked, dtype=np.int64)
        contributed = np.array([t in sample.linked or t == sample.own_target for t in ranked])
        total = max(sum(counts.values()), 1)  # 0 when every candidate is a title never linked
        kurtosis = padded_kurtosis(list(counts.values())) if changed else self._kurtosis[key]
        columns["relatedness"].extend(self.contexts.leave_one_out(ids, sample.vector, contributed)[kept].tolist())
        for rank in kept:
            target = ranked[rank]
            columns["ngram"].append(d.ngram[key])
            columns["freq"].append(counts[target])
            columns["ambig"].append(len(counts))
            columns["kurtosis"].append(kurtosis)
            columns["jaro"].append(self.jaro(key, target))
            columns["commonness"].append(counts[target] / total)
            columns["link_prob"].append(link_probability(aslink, astext))
            columns["target_articles"].append(int(d.target_articles[target]) - (target in sample.linked))
            columns["target_known"].append(int(d.target_known[target]))
            columns["rank"].append(rank)
            columns["position"].append(offset / sample.length)
            columns["capitalised"].append(int(capitalised))
            title_anchor, redirect_anchor = source_flags(self.source(key, target))
            columns["title_anchor"].append(title_anchor)
            columns["redirect_anchor"].append(redirect_anchor)
            self.labels.append(int((key, target) in sample.gold))
        return len(kept)


def training_rows(
    samples: Iterable[ArticleSample],
    dictionary: Dictionary,
    contexts: TargetContexts,
    excluded: frozenset[int] = frozenset(),
) -> TrainingRows:
    """Rows of every sample; none for a candidate whose target id is in ``excluded``."""
    builder = _RowBuilder(dictionary, contexts, excluded)
    articles = 0
    for sample in samples:
        builder.add_article(sample, articles)
        articles += 1
    columns = FeatureColumns(**{name: np.array(values, dtype=np.float32) for name, values in builder.columns.items()})
    labels = np.array(builder.labels, dtype=np.float32)
    return TrainingRows(columns.matrix(), labels, np.array(builder.groups, dtype=np.int64), articles)
