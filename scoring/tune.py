"""Hyper-parameters chosen by cross-validation on training rows only.

Each setting of ``GRID`` is fitted with ``xgb.cv`` over folds made of whole groups (a group is a
training article, or a whole wiki for a shared model), with early stopping on the held-out log loss;
the setting and round count with the lowest mean held-out log loss win. Test articles are never
seen here: they are touched once, by the backtest of the finished model.

Why log loss: the gate and production cut scores at fixed thresholds (0.5, GrowthExperiments' 0.6),
so the probabilities themselves must be right, not only their order.

Guarantees: deterministic for the same rows (folds are ``group % folds``; xgboost's seed is fixed);
with fewer than two groups there is nothing to hold out, and ``DEFAULT_PARAMS`` with ``max_rounds``
rounds are returned with ``folds=0``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xgboost as xgb

from scoring.model import DEFAULT_PARAMS

__all__ = ["DEFAULT_FOLDS", "GRID", "MAX_ROUNDS", "Tuning", "choose", "group_folds"]

# Depth and leaf-weight floor are what moved the samples' results; eta and subsample stay fixed. Six
# settings keep a pooled (shared-model) search to minutes on two cores.
GRID: tuple[dict[str, float], ...] = tuple(
    {"max_depth": depth, "min_child_weight": weight} for depth in (3, 4, 6) for weight in (1.0, 10.0)
)
MAX_ROUNDS = 600
DEFAULT_FOLDS = 3
_EARLY_STOP = 30


@dataclass(frozen=True)
class Tuning:
    params: dict[str, float]  # the GRID entry chosen (merged over DEFAULT_PARAMS when fitting)
    rounds: int
    cv_logloss: float  # mean held-out log loss at ``rounds`` (nan when folds == 0)
    folds: int

    def summary(self) -> dict[str, int | float]:
        """The manifest's record of the choice (no log loss without folds: JSON has no NaN)."""
        loss = {"cv_logloss": round(self.cv_logloss, 5)} if self.folds else {}
        return {**self.params, "rounds": self.rounds, **loss, "cv_folds": self.folds}


def group_folds(groups: np.ndarray, folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train rows, held-out rows) per fold; every row of a group lands in the same fold."""
    fold_of = np.unique(groups, return_inverse=True)[1] % folds
    return [(np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)) for k in range(folds)]


def choose(
    features: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    feature_names: Sequence[str],
    *,
    folds: int = DEFAULT_FOLDS,
    grid: Sequence[dict[str, float]] = GRID,
    max_rounds: int = MAX_ROUNDS,
    n_jobs: int = 2,
) -> Tuning:
    """The GRID entry and round count with the lowest grouped-CV log loss (see the module docstring)."""
    if not grid:
        raise ValueError("an empty grid has nothing to choose from")
    if not len(features) == len(labels) == len(groups):  # xgboost's fold slicing crashes the process instead
        raise ValueError(f"{len(features)} rows, {len(labels)} labels and {len(groups)} groups must agree")
    folds = min(folds, len(np.unique(groups)))
    if folds < 2:
        return Tuning({}, max_rounds, float("nan"), 0)
    matrix = xgb.DMatrix(features, label=labels, feature_names=list(feature_names), missing=np.nan)
    splits = group_folds(groups, folds)
    best = Tuning({}, 0, float("inf"), folds)
    for setting in grid:
        history = xgb.cv(
            {**DEFAULT_PARAMS, **setting, "nthread": n_jobs},
            matrix,
            num_boost_round=max_rounds,
            folds=splits,
            early_stopping_rounds=_EARLY_STOP,
            as_pandas=False,
        )
        losses = history["test-logloss-mean"]
        round_index = int(np.argmin(losses))
        if losses[round_index] < best.cv_logloss:
            best = Tuning(dict(setting), round_index + 1, float(losses[round_index]), folds)
    return best
