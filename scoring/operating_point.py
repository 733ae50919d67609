"""The model's operating point: a shift of its margin, chosen by grouped CV on training articles.

Why: a training label says "this article links this candidate", but articles link only part of
what an editor would accept (a mention linked in one article is plain text in the next), so a
probability fitted by log loss is lower than the chance that a suggestion is right. The release
gate (0.5) and GrowthExperiments (``minimum_link_score``, 0.6) cut the scores at fixed values, so
where a model's 0.5 falls decides its recall; on small wikis it fell where almost nothing passes.

How: out-of-fold margins come from refitting the chosen hyper-parameters on each fold of whole
groups (articles, or whole wikis for a shared model: ``tune.group_folds``). Each candidate shift of
``SHIFTS`` is scored by what the scorer would pick at 0.5: per mention, its best candidate only,
kept when its shifted margin is >= 0. The shift with the most recall whose precision stays >=
``TARGET_PRECISION`` wins (the gate asks 0.75; the margin covers fold-to-test noise); when none
reaches it, the shift with the best precision. The shift is written into the booster's
``base_score``, so every scorer applies it with no code of its own, and the manifest records it
with the out-of-fold precision and recall. Test articles are never seen here.

Guarantees: deterministic for the same rows (folds and xgboost's seed are fixed); a shift never
changes which candidate of a mention is best, only whether it passes a threshold.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xgboost as xgb

from scoring.features import FEATURES
from scoring.model import DEFAULT_PARAMS, LinkModel
from scoring.tune import Tuning, group_folds

__all__ = ["SHIFTS", "TARGET_PRECISION", "OperatingPoint", "choose_shift", "mention_starts", "operating_point",
           "out_of_fold_margins", "shifted"]

SHIFTS = tuple(float(s) for s in np.arange(-2.0, 4.01, 0.25))
TARGET_PRECISION = 0.85


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


def operating_point(features: np.ndarray, labels: np.ndarray, groups: np.ndarray, tuning: Tuning, *,
                    articles: np.ndarray | None = None, n_jobs: int = 2) -> OperatingPoint:
    """The shift for a model fitted with ``tuning`` on these rows (``features.FEATURES`` columns), with
    ``tuning``'s folds over ``groups``; ``articles`` tells the rows' articles when groups are not
    articles (whole wikis). No shift when ``tuning`` had no folds to hold out."""
    if tuning.folds < 2:
        return OperatingPoint(0.0, float("nan"), float("nan"))
    margins = out_of_fold_margins(features, labels, groups, FEATURES, params=tuning.params, rounds=tuning.rounds,
                                  folds=tuning.folds, n_jobs=n_jobs)
    starts = mention_starts(groups if articles is None else articles, features[:, FEATURES.index("position")])
    return choose_shift(margins, labels, starts)


def out_of_fold_margins(
    features: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    feature_names: Sequence[str],
    *,
    params: dict[str, float],
    rounds: int,
    folds: int,
    n_jobs: int = 2,
) -> np.ndarray:
    """Each row's margin from a model fitted on the folds that do not hold its group."""
    margins = np.zeros(len(labels), dtype=np.float64)
    for train, held_out in group_folds(groups, folds):
        matrix = xgb.DMatrix(features[train], label=labels[train], feature_names=list(feature_names), missing=np.nan)
        booster = xgb.train({**DEFAULT_PARAMS, **params, "nthread": n_jobs}, matrix, num_boost_round=rounds)
        margins[held_out] = booster.inplace_predict(features[held_out], missing=np.nan, predict_type="margin",
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
    target_precision: float = TARGET_PRECISION,
    shifts: Sequence[float] = SHIFTS,
) -> OperatingPoint:
    """The shift of the module docstring; ``starts`` is each mention's first row (``mention_starts``)."""
    if not len(margins):
        return OperatingPoint(0.0, 0.0, 0.0)
    best_rows = starts + np.array([int(np.argmax(part)) for part in np.split(margins, starts[1:])])
    best_margin, best_right = margins[best_rows], labels[best_rows] > 0
    positives = max(int((np.maximum.reduceat(labels, starts) > 0).sum()), 1)
    points = []
    for shift in shifts:
        taken = best_margin + shift >= 0
        right = int((taken & best_right).sum())
        points.append(OperatingPoint(float(shift), right / int(taken.sum()) if taken.any() else 0.0, right / positives))
    passing = [p for p in points if p.precision >= target_precision]
    if passing:
        return max(passing, key=lambda p: (p.recall, -p.shift))
    return max(points, key=lambda p: (p.precision, -p.shift))


def shifted(model: LinkModel, shift: float) -> LinkModel:
    """``model`` with ``shift`` added to every margin (stored in the booster's ``base_score``)."""
    booster = model.booster.copy()
    stored = json.loads(json.loads(booster.save_config())["learner"]["learner_model_param"]["base_score"])
    base = float(stored[0] if isinstance(stored, list) else stored)  # xgboost 3 writes "[2.8E-1]", 2.x "2.8E-1"
    margin = np.log(base / (1.0 - base)) + shift
    booster.set_param({"base_score": float(1.0 / (1.0 + np.exp(-margin)))})
    return LinkModel(booster, model.feature_names)
