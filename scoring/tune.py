"""Hyper-parameters chosen by cross-validation on training rows only.

Folds are made of whole groups (a group is a training article, or a whole wiki for a shared model);
every fit runs ``xgb.cv`` with early stopping on the held-out log loss. Test articles are never seen
here: they are touched once, by the backtest of the finished model. Two stages:

1. Ranking: every setting of ``GRID`` is cross-validated at ``RANK_ETA`` on a sample of whole units
   (training articles) of about ``RANK_ROWS`` rows; the setting with the lowest mean held-out log
   loss wins.
2. Rounds: the winner alone is cross-validated at the final fit's eta (``model.DEFAULT_PARAMS``) on
   whole units of up to ``ROUND_ROWS`` rows (every row of a sample wiki); its best round count and
   held-out loss are the result, and the final fit (train.py) uses them on every training row.

Why: grid-searching every setting on every row at eta 0.1 was about 90 % of training time (6 settings
x 3 folds x up to 600 rounds: about 50 CPU seconds on the Greek sample's 68k rows, minutes when two
spinning OpenMP threads share the cores with other processes). Which setting wins needs neither every
row nor a small step (on el, uk, ltg and mr the full search and the ranking both chose depth 6, weight
1); the round count does: chosen on a 20k-row sample it was far too low (el at eta 0.3: 26 rounds,
held-out loss 0.192 against 0.144 with rounds chosen on every row), and eta 0.3 for the final model
raised the grouped-CV loss of el, uk, ltg and mr (mr 0.302 against 0.292; on mr's five held-out
article folds 0.291 against 0.283). So stage 2 is the old search of one setting, and the model is
what the full search would give whenever the ranking agrees (on those four wikis, byte for byte).
``max_bin`` stays xgboost's 256: 64 bins cost el's held-out loss 0.016. ``ROUND_ROWS`` bounds stage 2
for full-size wikis, where CV over millions of rows would take hours.

Why log loss: the gate and production cut scores at fixed thresholds (0.5, GrowthExperiments' 0.6),
so the probabilities themselves must be right, not only their order.

Guarantees: deterministic for the same rows (samples are drawn with a fixed seed from the sorted
unit ids, folds are ``group % folds``, xgboost's seed is fixed); with fewer than two groups there is
nothing to hold out, and ``DEFAULT_PARAMS`` with ``max_rounds`` rounds are returned with ``folds=0``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xgboost as xgb

from scoring.model import DEFAULT_PARAMS

__all__ = [
    "DEFAULT_FOLDS",
    "GRID",
    "MAX_ROUNDS",
    "RANK_ETA",
    "RANK_ROWS",
    "ROUND_ROWS",
    "Tuning",
    "choose",
    "group_folds",
    "whole_units",
]

# Depth and leaf-weight floor are what moved the samples' results; eta and subsample stay fixed. Six
# settings keep a pooled (shared-model) search to minutes on two cores.
GRID: tuple[dict[str, float], ...] = tuple(
    {"max_depth": depth, "min_child_weight": weight} for depth in (3, 4, 6) for weight in (1.0, 10.0)
)
MAX_ROUNDS = 600
DEFAULT_FOLDS = 3
RANK_ETA = 0.3
RANK_ROWS = 20_000
ROUND_ROWS = 250_000
_EARLY_STOP = 20


@dataclass(frozen=True)
class Tuning:
    params: dict[str, float]  # the GRID entry chosen (merged over DEFAULT_PARAMS when fitting)
    rounds: int
    cv_logloss: float  # mean held-out log loss at ``rounds`` (nan when folds == 0)
    folds: int
    ranked_rows: int = 0  # rows the settings were ranked on (stage 1, at RANK_ETA)
    rounds_rows: int = 0  # rows ``rounds`` and ``cv_logloss`` come from (stage 2, or stage 1's)

    def summary(self) -> dict[str, int | float]:
        """The manifest's record of the choice (no log loss without folds: JSON has no NaN)."""
        if not self.folds:
            return {**self.params, "rounds": self.rounds, "cv_folds": 0}
        return {**self.params, "rounds": self.rounds, "cv_logloss": round(self.cv_logloss, 5),
                "cv_folds": self.folds, "cv_ranked_rows": self.ranked_rows, "cv_rounds_rows": self.rounds_rows}


def group_folds(groups: np.ndarray, folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train rows, held-out rows) per fold; every row of a group lands in the same fold."""
    fold_of = np.unique(groups, return_inverse=True)[1] % folds
    return [(np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)) for k in range(folds)]


def whole_units(units: np.ndarray, limit: int, minimum: int = 1) -> np.ndarray:
    """Row mask of whole units (every row of a chosen unit, none of the others) drawn at random with a
    fixed seed so that about ``limit`` rows remain, and at least ``minimum`` units; all rows when they
    fit in ``limit``."""
    if len(units) <= limit:
        return np.ones(len(units), dtype=bool)
    unique = np.unique(units)
    wanted = max(minimum, len(unique) * limit // len(units))
    chosen = np.random.default_rng(0).permutation(unique)[:wanted]
    return np.isin(units, chosen)


def _best(
    features: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    feature_names: Sequence[str],
    grid: Sequence[dict[str, float]],
    *,
    folds: int,
    max_rounds: int,
    n_jobs: int,
    eta: float | None = None,
) -> Tuning:
    """The setting of ``grid`` and its round count with the lowest grouped-CV log loss on these rows
    (at ``eta``, default ``DEFAULT_PARAMS``')."""
    step = {} if eta is None else {"eta": eta}
    matrix = xgb.DMatrix(features, label=labels, feature_names=list(feature_names), missing=np.nan)
    folds = min(folds, len(np.unique(groups)))
    splits = group_folds(groups, folds)
    best = Tuning({}, 0, float("inf"), folds)
    for setting in grid:
        history = xgb.cv(
            {**DEFAULT_PARAMS, **setting, **step, "nthread": n_jobs},
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
    units: np.ndarray | None = None,
    rank_rows: int = RANK_ROWS,
    round_rows: int = ROUND_ROWS,
) -> Tuning:
    """The GRID entry and round count with the lowest grouped-CV log loss (see the module docstring).
    ``units``: what the samples are made of, one id per row (default ``groups``; a shared model's
    groups are whole wikis, its units articles)."""
    if not grid:
        raise ValueError("an empty grid has nothing to choose from")
    units = groups if units is None else units
    if not len(features) == len(labels) == len(groups) == len(units):  # xgboost's fold slicing crashes the process instead
        raise ValueError(f"{len(features)} rows, {len(labels)} labels, {len(groups)} groups and {len(units)} units must agree")
    folds = min(folds, len(np.unique(groups)))
    if folds < 2:
        return Tuning({}, max_rounds, float("nan"), 0)
    fit = {"feature_names": feature_names, "folds": folds, "max_rounds": max_rounds, "n_jobs": n_jobs}
    ranking = whole_units(units, rank_rows, minimum=folds)
    if len(np.unique(groups[ranking])) < 2:  # a sample of one group (one wiki of a shared model): rank on all rows
        ranking = np.ones(len(units), dtype=bool)
    if len(grid) == 1:  # nothing to rank
        winner, ranked_rows = dict(grid[0]), 0
    else:
        winner = _best(features[ranking], labels[ranking], groups[ranking], grid=grid, eta=RANK_ETA, **fit).params
        ranked_rows = int(ranking.sum())
    rows = whole_units(units, round_rows, minimum=folds)
    final = _best(features[rows], labels[rows], groups[rows], grid=[winner], **fit)
    return Tuning(final.params, final.rounds, final.cv_logloss, final.folds, ranked_rows, int(rows.sum()))
