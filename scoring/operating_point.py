"""The model's operating point: a shift of its margin, chosen by grouped CV on training articles.

Why: a training label says "this article links this candidate", but articles link only part of
what an editor would accept (a mention linked in one article is plain text in the next), so a
probability fitted by log loss is lower than the chance that a suggestion is right. The release
gate (0.5) and GrowthExperiments (``minimum_link_score``, 0.6) cut the scores at fixed values, so
where a model's 0.5 falls decides its recall; on small wikis it fell where almost nothing passes.

How: the shift is chosen in the release gate's unit, mwaddlink's sentence backtest, on training
articles only. Each training article's first linked sentence is scored as the backtest scores a test
sentence (examples.SentenceRows: the sentence's mentions alone, its own links as gold, dictionary
features without the article's fold), by a model refitted with the chosen hyper-parameters on the CV
folds that do not hold the article (``tune.group_folds``: whole articles, or whole wikis for a shared
model). Each candidate shift of ``SHIFTS`` is scored by what the scorer would pick at 0.5: per
mention, its best candidate only, kept when its shifted margin is >= 0; precision over the picks,
recall over every link of the sentences (found or not).

The rule: the gate (precision >= 0.75, recall >= 0.20) is judged on the test split, so each side's
distance above it is counted in standard errors of a test split: binomial at the bar, over the picks
(precision) or gold links (recall) scaled down to the test split's size (a quarter of the training
articles). The shift with the most recall whose both sides stand ``CONFIDENCE`` (one-sided 95 %) or
more above the gate wins; when no shift does, the training articles cannot place the bar and the
model keeps its own calibration (no shift): a handful of articles, or a model too weak for the gate,
would otherwise move it on noise. Why not "the most recall above a fixed precision floor", as before: a floor
set for a small wiki's noise starves recall where the model is weak (the gate then fails on recall,
and the wiki gets no model at all), and sits needlessly high where the test split is large.
The shift is written into the booster's ``base_score`` (``LinkModel.shifted``), so every scorer applies
it with no code of its own, and the manifest records it with the out-of-fold sentence precision and recall
(``cv_precision``, ``cv_recall``). Test articles are never seen here.

Why the sentence unit: page-level rows count every unlinked mention of a page as a wrong pick, and a
page links few of its mentions, while the gate counts only sentences that hold a link; the two
precisions do not move together across wikis.

Guarantees: deterministic for the same rows (folds and xgboost's seed are fixed); a shift never
changes which candidate of a mention is best, only whether it passes a threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xgboost as xgb

from scoring.backtest import GATE_MIN_PRECISION, GATE_MIN_RECALL
from scoring.dumps import TEST_PERCENT
from scoring.examples import SentenceRows
from scoring.features import FEATURES
from scoring.model import DEFAULT_PARAMS, LinkModel
from scoring.tune import Tuning, group_folds

__all__ = ["CONFIDENCE", "SHIFTS", "TEST_SIZE", "OperatingPoint", "choose_shift", "mention_starts", "operating_point",
           "out_of_fold_margins", "point_for"]

SHIFTS = tuple(float(s) for s in np.arange(-2.0, 4.01, 0.25))
CONFIDENCE = 1.645  # standard errors: one-sided 95 %
TEST_SIZE = TEST_PERCENT / (100 - TEST_PERCENT)  # a test split's size, as a share of the training articles'


@dataclass(frozen=True)
class OperatingPoint:
    shift: float  # added to the margin (logit) of every score
    precision: float  # out of fold, at 0.5 after the shift
    recall: float

    def summary(self) -> dict[str, float]:
        """The manifest's record of the choice (no figures without folds: JSON has no NaN)."""
        if np.isnan(self.precision):
            return {"margin_shift": self.shift}
        return {"margin_shift": self.shift, "cv_precision": round(self.precision, 4), "cv_recall": round(self.recall, 4)}


def operating_point(features: np.ndarray, labels: np.ndarray, groups: np.ndarray, tuning: Tuning,
                    sentences: SentenceRows, *, sentence_groups: np.ndarray | None = None,
                    n_jobs: int = 2) -> OperatingPoint:
    """The shift for a model fitted with ``tuning`` on these rows (``features.FEATURES`` columns), chosen
    on ``sentences`` (the same training articles' sentence rows) scored out of fold, with ``tuning``'s
    folds over ``groups``; ``sentence_groups``: the sentence rows' fold groups when ``groups`` are not
    articles (whole wikis). No shift when ``tuning`` had no folds to hold out."""
    if tuning.folds < 2:
        return OperatingPoint(0.0, float("nan"), float("nan"))
    margins = out_of_fold_margins(
        features, labels, groups, FEATURES, sentences.features,
        sentences.groups if sentence_groups is None else sentence_groups,
        params=tuning.params, rounds=tuning.rounds, folds=tuning.folds, n_jobs=n_jobs,
    )
    return _choose_on(margins, sentences)


def out_of_fold_margins(
    features: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    feature_names: Sequence[str],
    held_out: np.ndarray,
    held_out_groups: np.ndarray,
    *,
    params: dict[str, float],
    rounds: int,
    folds: int,
    n_jobs: int = 2,
) -> np.ndarray:
    """The margin of each ``held_out`` row from a model fitted on the folds of ``groups`` that do not hold
    the row's group (a group without fitted rows goes to some fold: no model saw it)."""
    fold_of = np.searchsorted(np.unique(groups), held_out_groups) % folds  # group_folds' numbering
    margins = np.zeros(len(held_out), dtype=np.float64)
    for k, (train, _) in enumerate(group_folds(groups, folds)):
        rows = np.flatnonzero(fold_of == k)
        if not len(rows):
            continue
        matrix = xgb.DMatrix(features[train], label=labels[train], feature_names=list(feature_names), missing=np.nan)
        booster = xgb.train({**DEFAULT_PARAMS, **params, "nthread": n_jobs}, matrix, num_boost_round=rounds)
        margins[rows] = booster.inplace_predict(held_out[rows], missing=np.nan, predict_type="margin",
                                                validate_features=False)
    return margins


def mention_starts(groups: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """First row of each mention: a mention's candidates are contiguous rows of one article with one
    position (mentions never overlap, so no two of an article share a position)."""
    if not len(groups):
        return np.zeros(0, dtype=np.int64)
    changed = (groups[1:] != groups[:-1]) | (positions[1:] != positions[:-1])
    return np.flatnonzero(np.r_[True, changed])


def choose_shift(
    margins: np.ndarray,
    labels: np.ndarray,
    starts: np.ndarray,
    *,
    gold: int | None = None,
    min_precision: float = GATE_MIN_PRECISION,
    min_recall: float = GATE_MIN_RECALL,
    test_size: float = TEST_SIZE,
    shifts: Sequence[float] = SHIFTS,
) -> OperatingPoint:
    """The shift of the module docstring; ``starts`` is each mention's first row (``mention_starts``);
    ``gold``: recall's denominator (default: the mentions with a right candidate); ``test_size``: the
    test split's size as a share of these rows' articles."""
    if not len(margins):
        return OperatingPoint(0.0, 0.0, 0.0)
    best_rows = starts + np.array([int(np.argmax(part)) for part in np.split(margins, starts[1:])])
    best_margin, best_right = margins[best_rows], labels[best_rows] > 0
    positives = max(int((np.maximum.reduceat(labels, starts) > 0).sum()) if gold is None else gold, 1)
    recall_error = np.sqrt(min_recall * (1 - min_recall) / (positives * test_size))

    def at(shift: float) -> tuple[OperatingPoint, float]:
        """The point of ``shift`` and how far its weaker side stands above the gate, in standard errors."""
        taken = best_margin + shift >= 0
        picks, right = int(taken.sum()), int((taken & best_right).sum())
        point = OperatingPoint(float(shift), right / picks if picks else 0.0, right / positives)
        if not picks:
            return point, -np.inf
        precision_error = np.sqrt(min_precision * (1 - min_precision) / (picks * test_size))
        return point, min((point.precision - min_precision) / precision_error, (point.recall - min_recall) / recall_error)

    confident = [point for point, standing in map(at, shifts) if standing >= CONFIDENCE]
    if not confident:
        return at(0.0)[0]
    return max(confident, key=lambda p: (p.recall, -p.shift))


def point_for(model: LinkModel, sentences: SentenceRows) -> OperatingPoint:
    """The shift for an already fitted ``model`` (a shared one) on a wiki's own sentence rows, by the same
    rule; out of sample only when the model was fitted without that wiki (shared.py says why it is used
    either way)."""
    if not len(sentences.labels):
        return OperatingPoint(0.0, float("nan"), float("nan"))
    margins = model.booster.inplace_predict(sentences.features, missing=np.nan, predict_type="margin",
                                            validate_features=False)
    return _choose_on(np.asarray(margins, dtype=np.float64), sentences)


def _choose_on(margins: np.ndarray, sentences: SentenceRows) -> OperatingPoint:
    starts = mention_starts(sentences.groups, sentences.features[:, FEATURES.index("position")])
    return choose_shift(margins, sentences.labels, starts, gold=sentences.gold)
