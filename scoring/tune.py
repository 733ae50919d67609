"""Hyper-parameters chosen by cross-validation on training rows only.

Folds are made of whole groups (a group is a training article, or a whole wiki for a shared model);
every fit runs ``xgb.cv`` with early stopping on the held-out log loss. Test articles are never seen
here: they are touched once, by the backtest of the finished model. Two stages:

1. Ranking: every setting of ``GRID`` is cross-validated at ``RANK_ETA`` (a third of the rounds of
   the final eta), deepest first; a setting whose held-out loss cannot reach the best one's any more
   is stopped (``_Hopeless``). The setting with the lowest mean held-out log loss wins.
2. Rounds: the winner alone is cross-validated at the final fit's eta (``model.DEFAULT_PARAMS``); its
   best round count and held-out loss are the result, and the final fit (train.py) uses them on every
   training row.
Both stages see every row up to ``ROUND_ROWS`` (whole units, i.e. training articles, beyond it).

Why: grid-searching every setting at eta 0.1 to early stopping was about 90 % of training time (6
settings x 3 folds x up to 600 rounds: about 50 CPU seconds on the Greek sample's 68k rows, minutes
when two spinning OpenMP threads share the cores with other processes). Which setting wins needs no
small step, but it needs the rows: ranked on a 20k-row sample of whole articles, the settings were
near ties and a shallower one won where all rows clearly prefer depth 6 (el: CV loss 0.197 against
0.181), since fewer rows favour smaller trees. The round count needs the final eta: eta 0.3 for the
final model raised the grouped-CV loss of el, uk, ltg and mr (mr 0.302 against 0.292; on mr's five
held-out article folds 0.291 against 0.283). So stage 2 is the old search of one setting, and the
model is what the full search gives whenever the ranking at eta 0.3 agrees with it (on el, uk, ltg
and mr, byte for byte). ``max_bin`` stays xgboost's 256: 64 bins cost el's held-out loss 0.016.
``ROUND_ROWS`` bounds both stages for full-size wikis, where CV over millions of rows would take hours.

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
ROUND_ROWS = 250_000
_EARLY_STOP = 30  # rounds without a better held-out loss; as before the two stages, so stage 2 is the old search


@dataclass(frozen=True)
class Tuning:
    params: dict[str, float]  # the GRID entry chosen (merged over DEFAULT_PARAMS when fitting)
    rounds: int
    cv_logloss: float  # mean held-out log loss at ``rounds`` (nan when folds == 0)
    folds: int
    rows: int = 0  # rows both stages saw

    def summary(self) -> dict[str, int | float]:
        """The manifest's record of the choice (no log loss without folds: JSON has no NaN)."""
        if not self.folds:
            return {**self.params, "rounds": self.rounds, "cv_folds": 0}
        return {**self.params, "rounds": self.rounds, "cv_logloss": round(self.cv_logloss, 5),
                "cv_folds": self.folds, "cv_rows": self.rows}


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


class _Hopeless(xgb.callback.TrainingCallback):
    """Stops a setting's CV once its held-out loss cannot reach ``best`` within ``max_rounds``: it has not
    been below ``best`` yet, and going on at the pace of its last ``_EARLY_STOP`` rounds would still end
    above it (boosting's loss curves flatten, so that pace only slows down)."""

    def __init__(self, best: float, max_rounds: int) -> None:
        super().__init__()
        self.best, self.max_rounds = best, max_rounds

    def after_iteration(self, model, epoch: int, evals_log: dict) -> bool:
        losses = [mean for mean, _ in evals_log["test"]["logloss"]]
        if len(losses) <= _EARLY_STOP or min(losses) <= self.best:
            return False
        pace = max((losses[-1 - _EARLY_STOP] - losses[-1]) / _EARLY_STOP, 0.0)
        return losses[-1] - pace * (self.max_rounds - len(losses)) > self.best


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
    """The setting of ``grid`` and its round count with the lowest grouped-CV log loss on these rows (at
    ``eta``, default ``DEFAULT_PARAMS``'); on a tie the earlier setting of ``grid``. Settings run last
    to first (GRID: deepest first, the usual winner, so the others stop early)."""
    step = {} if eta is None else {"eta": eta}
    matrix = xgb.DMatrix(features, label=labels, feature_names=list(feature_names), missing=np.nan)
    splits = group_folds(groups, folds)
    best = Tuning({}, 0, float("inf"), folds, len(labels))
    for setting in reversed(grid):
        history = xgb.cv(
            {**DEFAULT_PARAMS, **setting, **step, "nthread": n_jobs},
            matrix,
            num_boost_round=max_rounds,
            folds=splits,
            early_stopping_rounds=_EARLY_STOP,
            as_pandas=False,
            callbacks=[_Hopeless(best.cv_logloss, max_rounds)],
        )
        losses = history["test-logloss-mean"]
        round_index = int(np.argmin(losses))
        if losses[round_index] <= best.cv_logloss:
            best = Tuning(dict(setting), round_index + 1, float(losses[round_index]), folds, len(labels))
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
    round_rows: int = ROUND_ROWS,
) -> Tuning:
    """The GRID entry and round count with the lowest grouped-CV log loss (see the module docstring).
    ``units``: what a sample beyond ``round_rows`` is made of, one id per row (default ``groups``; a
    shared model's groups are whole wikis, its units articles)."""
    if not grid:
        raise ValueError("an empty grid has nothing to choose from")
    units = groups if units is None else units
    if not len(features) == len(labels) == len(groups) == len(units):  # xgboost's fold slicing crashes the process instead
        raise ValueError(f"{len(features)} rows, {len(labels)} labels, {len(groups)} groups and {len(units)} units must agree")
    folds = min(folds, len(np.unique(groups)))
    if folds < 2:
        return Tuning({}, max_rounds, float("nan"), 0)
    rows = whole_units(units, round_rows, minimum=folds)
    if len(np.unique(groups[rows])) < folds:  # a sample that lost a group (a wiki of a shared model): every row
        rows = np.ones(len(units), dtype=bool)
    features, labels, groups = features[rows], labels[rows], groups[rows]
    fit = {"feature_names": feature_names, "folds": folds, "max_rounds": max_rounds, "n_jobs": n_jobs}
    winner = dict(grid[0]) if len(grid) == 1 else _best(features, labels, groups, grid=grid, eta=RANK_ETA, **fit).params
    return _best(features, labels, groups, grid=[winner], **fit)
