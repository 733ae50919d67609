"""Training rows: the candidates the scorer would see on each training article, labelled by its links.

For a training article P (links already turned into text, as in the backtest), every mention the
scorer would consider yields one row per top-10 candidate, label 1 when P links that anchor to that
target. Every count describing the dictionary is computed *as if P's fold had not been in training*:
the training articles are dealt into ``STATS_FOLDS`` folds, and the links, plain-text occurrences and
linking articles of P's whole fold are subtracted from the counts behind freq, commonness, ambiguity,
kurtosis, link probability, rank and target articles. P's own vector leaves the target contexts
(relatedness).

Why a fold and not P alone: without any subtraction, a link P itself contributed makes its own
features look stronger than they ever are on an unseen article. Subtracting P alone (leave-one-out)
is worse: it lowers a count by one exactly when P links that pair, so within one anchor the rows
labelled 1 read N-1 where the rows labelled 0 read N, and a boosted model learns that fingerprint.
On an unseen article a right pair reads N and looks like the wrong ones (measured on vi and mr:
held-out sentences of training articles scored mean margin +0.7 for their right pairs, the test
split's -0.9, with the freq and target-articles features making most of the gap). With a fold
subtracted, every article of the fold reads the same counts, linked or not.

A candidate added for a title's own text (anchors.py) stays a candidate whatever the fold's links do:
it does not depend on them. An anchor that without the fold would fail mwaddlink's filters keeps only
such candidates, as it would in the dictionary.

Excluded targets (over-linking control) yield no rows: the model never learns from links to them.
They stay in the dictionary and in every other row's features (rank, ambiguity, commonness), which
are what the scorer computes from the same dictionary, so training and scoring features agree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from rapidfuzz.distance import Jaro

from scoring.anchors import candidate_source, padded_kurtosis, source_flags
from scoring.corpus import ArticleSample
from scoring.features import MAX_CANDIDATES, FeatureColumns
from scoring.relatedness import TargetContexts

__all__ = ["STATS_FOLDS", "Dictionary", "SentenceRows", "TrainingRows", "link_probability", "training_rows"]

MIN_LINK_PROBABILITY = 0.065
# Folds of training articles whose counts leave the dictionary together (module docstring): more folds
# keep the counts closer to the whole dictionary's, which is what an unseen article reads.
STATS_FOLDS = 10


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
class SentenceRows:
    """Rows of the training articles' first linked sentences as mwaddlink's backtest scores them
    (sentence_unit.py): the sentence's mentions only, labelled by the sentence's own links, nothing
    blocked but the title. The operating point is chosen on them, in the release gate's unit."""

    features: np.ndarray
    labels: np.ndarray
    groups: np.ndarray  # the training article, numbered as ``TrainingRows.groups``
    gold: int  # the sentences' links, findable or not: recall's denominator


@dataclass(frozen=True)
class TrainingRows:
    features: np.ndarray  # float32 (rows, len(FEATURES))
    labels: np.ndarray  # float32 0/1
    groups: np.ndarray  # int64, the training article each row comes from (0..articles-1): CV folds
    articles: int
    sentences: SentenceRows  # the same articles' first linked sentences


@dataclass
class _FoldCounts:
    """What the training articles of one fold added to the dictionary's counts."""

    pairs: Counter[tuple[str, int]] = field(default_factory=Counter)  # articles linking (key, target)
    aslink: Counter[str] = field(default_factory=Counter)
    astext: Counter[str] = field(default_factory=Counter)
    targets: Counter[int] = field(default_factory=Counter)  # articles linking the target
    kurtosis: dict[str, float] = field(default_factory=dict)  # per anchor, of the counts without the fold

    def add(self, sample: ArticleSample) -> None:
        self.pairs.update((key, target) for key, targets in sample.pairs.items() for target in targets)
        self.aslink.update(sample.link_keys)
        self.astext.update({k: max(n - sample.top_keys.get(k, 0), 0) for k, n in sample.occurrences.items()})
        self.targets.update(sample.linked)


def _fold_counts(samples: Sequence[ArticleSample]) -> list[_FoldCounts]:
    folds = [_FoldCounts() for _ in range(STATS_FOLDS)]
    for group, sample in enumerate(samples):
        folds[group % STATS_FOLDS].add(sample)
    return folds


class _RowBuilder:
    def __init__(self, dictionary: Dictionary, contexts: TargetContexts, excluded: frozenset[int],
                 samples: Sequence[ArticleSample]) -> None:
        self.d = dictionary
        self.contexts = contexts
        self.excluded = excluded
        self.folds = _fold_counts(samples)
        self._kurtosis = {k: padded_kurtosis(list(c.values())) for k, c in dictionary.candidates.items()}
        self._jaro: dict[tuple[str, int], float] = {}
        self._source: dict[tuple[str, int], int] = {}
        self.columns: dict[str, list] = {name: [] for name in FeatureColumns.__dataclass_fields__}
        self.labels: list[int] = []
        self.groups: list[int] = []

    def take(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Features, labels and groups of the rows added since the last take (the caches stay)."""
        columns = FeatureColumns(**{name: np.array(values, dtype=np.float32) for name, values in self.columns.items()})
        taken = columns.matrix(), np.array(self.labels, dtype=np.float32), np.array(self.groups, dtype=np.int64)
        self.columns = {name: [] for name in self.columns}
        self.labels, self.groups = [], []
        return taken

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
        """Rows of ``sample``, the training article numbered ``group`` (its fold: ``group % STATS_FOLDS``)."""
        d, fold = self.d, self.folds[group % STATS_FOLDS]
        blocked = sample.existing_targets | ({sample.own_target} if sample.own_target >= 0 else set())
        for key, offset, capitalised in sample.mentions:
            if key not in d.candidates or key in sample.title_key or key in sample.existing_anchors:
                continue
            titled = d.titled.get(key, frozenset())
            counts = {t: c - fold.pairs[(key, t)] for t, c in d.candidates[key].items()}
            aslink = d.aslink[key] - fold.aslink[key]
            astext = max(d.astext.get(key, 0) - fold.astext[key], 0)
            # Without this fold, would the anchor pass mwaddlink's filters as a linked anchor?
            passes = aslink > 1 and link_probability(aslink, astext) >= MIN_LINK_PROBABILITY
            counts = {t: c for t, c in counts.items() if (passes and c > 0) or t in titled}
            if not counts:
                continue  # without this fold the anchor would not be in the dictionary
            if not blocked.isdisjoint(counts):
                continue
            ranked = sorted(counts, key=lambda t: (-counts[t], d.titles[t]))[:MAX_CANDIDATES]
            changed = counts != d.candidates[key]
            added = self._add_rows(sample, fold, key, offset, capitalised, counts, ranked, aslink, astext, changed)
            self.groups.extend([group] * added)

    def _add_rows(self, sample: ArticleSample, fold: _FoldCounts, key: str, offset: int, capitalised: bool,
                  counts: dict[int, int], ranked: list[int], aslink: int, astext: int, changed: bool) -> int:
        """Append the rows of ``ranked`` whose target is not excluded; returns how many."""
        d, columns = self.d, self.columns
        kept = [rank for rank, target in enumerate(ranked) if target not in self.excluded]
        if not kept:
            return 0
        ids = np.array(ranked, dtype=np.int64)
        contributed = np.array([t in sample.linked or t == sample.own_target for t in ranked])
        total = max(sum(counts.values()), 1)  # 0 when every candidate is a title never linked
        if not changed:
            kurtosis = self._kurtosis[key]
        elif (kurtosis := fold.kurtosis.get(key)) is None:  # the same counts for every article of the fold
            kurtosis = fold.kurtosis[key] = padded_kurtosis(list(counts.values()))
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
            columns["target_articles"].append(int(d.target_articles[target]) - fold.targets[target])
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
    samples: Sequence[ArticleSample],
    dictionary: Dictionary,
    contexts: TargetContexts,
    excluded: frozenset[int] = frozenset(),
) -> TrainingRows:
    """Rows of every sample, and of each sample's first linked sentence (``SentenceRows``: the same
    fold-excluded features, since the whole article contributed to the dictionary); none for a
    candidate whose target id is in ``excluded``. One builder makes both, sharing its caches."""
    builder = _RowBuilder(dictionary, contexts, excluded, samples)
    for group, sample in enumerate(samples):
        builder.add_article(sample, group)
    page_rows = builder.take()
    gold = 0
    for group, sample in enumerate(samples):
        alone = replace(sample, mentions=sample.sentence_mentions, gold=sample.sentence_gold,
                        existing_anchors="", existing_targets=frozenset())
        builder.add_article(alone, group)
        gold += sum(target not in excluded for _, target in sample.sentence_gold) + sample.sentence_unknown
    return TrainingRows(*page_rows, len(samples), SentenceRows(*builder.take(), gold))
