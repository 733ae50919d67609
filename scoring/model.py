"""The link classifier: an XGBoost booster over the named feature columns of ``features.FEATURES``.

Guarantees: the model is stored with ``Booster.save_model`` as UBJSON (the format xgboost keeps
loadable across versions; never pickle), carries its feature names, and refuses to load when they
differ from the code's columns. ``predict`` makes one ``inplace_predict`` call for a whole matrix
(every candidate of a page at once), single-threaded, and is safe to call from several threads.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# XGBoost's OpenMP threads spin while they wait for work; on a machine whose cores other processes
# share, two spinning threads burned 13x the CPU of one (el: 9.4 against 0.7 CPU seconds for 100
# rounds). libgomp reads this when it loads, so it is set before xgboost is imported; a value the
# environment gives wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import xgboost as xgb  # noqa: E402 (after the OpenMP setting above)

__all__ = ["DEFAULT_PARAMS", "LinkModel", "ModelMismatch"]

DEFAULT_PARAMS: dict[str, object] = {
    "objective": "binary:logistic",
    "eval_metric": "logloss",
    "tree_method": "hist",
    # max_depth and min_child_weight are chosen per training by grouped CV (tune.py); these two values
    # serve only when there are too few training articles to cross-validate.
    "max_depth": 4,
    "eta": 0.1,
    "subsample": 0.8,
    "min_child_weight": 5.0,
    "seed": 0,
}
DEFAULT_ROUNDS = 300


class ModelMismatch(ValueError):
    """The stored booster does not have the feature columns this code computes."""


class LinkModel:
    """A trained booster plus the names of its input columns, in order."""

    def __init__(self, booster: xgb.Booster, feature_names: Sequence[str]) -> None:
        stored = booster.feature_names
        if stored is not None and list(stored) != list(feature_names):
            raise ModelMismatch(f"model was trained on columns {stored}, code computes {list(feature_names)}")
        if booster.num_features() != len(feature_names):
            raise ModelMismatch(f"model expects {booster.num_features()} features, code computes {len(feature_names)}")
        booster.set_param({"nthread": 1})
        self.booster = booster
        self.feature_names = tuple(feature_names)

    @classmethod
    def fit(
        cls,
        features: np.ndarray,
        labels: np.ndarray,
        feature_names: Sequence[str],
        *,
        n_jobs: int = 2,
        rounds: int = DEFAULT_ROUNDS,
        params: dict[str, object] | None = None,
    ) -> LinkModel:
        """Train a binary classifier (label 1 = the candidate is a link in the article). NaN = missing."""
        matrix = xgb.DMatrix(features, label=labels, feature_names=list(feature_names), missing=np.nan)
        booster = xgb.train({**DEFAULT_PARAMS, **(params or {}), "nthread": n_jobs}, matrix, num_boost_round=rounds)
        return cls(booster, feature_names)

    def save(self, path: Path) -> None:
        """Write the booster as UBJSON (``path`` should end in ``.ubj``)."""
        self.booster.save_model(str(path))

    @classmethod
    def load(cls, path: Path, feature_names: Sequence[str]) -> LinkModel:
        booster = xgb.Booster()
        booster.load_model(str(path))
        return cls(booster, feature_names)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Probability of being a link, float32, one per row; an empty matrix gives an empty array."""
        if features.shape[0] == 0:
            return np.zeros(0, dtype=np.float32)
        scores = self.booster.inplace_predict(features, missing=np.nan, validate_features=False)
        return np.asarray(scores, dtype=np.float32).reshape(-1)
