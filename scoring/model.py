"""The link classifier: an XGBoost booster over the named feature columns of ``features.FEATURES``.

Guarantees: the model is stored with ``Booster.save_model`` as UBJSON (the format xgboost keeps
loadable across versions; never pickle), carries its feature names, and refuses to load when they
differ from the code's columns. ``predict`` scores a whole matrix (every candidate of a page) in one
call, single-threaded, and is safe to call from several threads: the trees are evaluated by the
native engine (``native.Forest``), bit-identical to XGBoost's ``inplace_predict`` without its fixed
cost of milliseconds per call (tests/unit/test_model.py holds them equal).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import numpy as np

# XGBoost's OpenMP threads spin while they wait for work; on a machine whose cores other processes
# share, two spinning threads burned 13x the CPU of one (el: 9.4 against 0.7 CPU seconds for 100
# rounds). libgomp reads this when it loads, so it is set before xgboost is imported; a value the
# environment gives wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import xgboost as xgb  # noqa: E402 (after the OpenMP setting above)

from scoring import native

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

    def shifted(self, shift: float) -> LinkModel:
        """This model with ``shift`` added to every margin (stored in the booster's ``base_score``, so
        every scorer applies it with no code of its own); the operating point (operating_point.py)."""
        booster = self.booster.copy()
        stored = json.loads(json.loads(booster.save_config())["learner"]["learner_model_param"]["base_score"])
        base = float(stored[0] if isinstance(stored, list) else stored)  # xgboost 3 writes "[2.8E-1]", 2.x "2.8E-1"
        margin = np.log(base / (1.0 - base)) + shift
        booster.set_param({"base_score": float(1.0 / (1.0 + np.exp(-margin)))})
        return LinkModel(booster, self.feature_names)

    @classmethod
    def load(cls, path: Path, feature_names: Sequence[str]) -> LinkModel:
        booster = xgb.Booster()
        booster.load_model(str(path))
        return cls(booster, feature_names)

    @cached_property
    def _forest(self) -> native.Forest:
        # Built on first use, not at load: reading the trees costs tens of milliseconds.
        return forest(self.booster)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Probability of being a link, float32, one per row; an empty matrix gives an empty array."""
        if features.shape[0] == 0:
            return np.zeros(0, dtype=np.float32)
        matrix = np.ascontiguousarray(features, dtype=np.float32)
        return np.frombuffer(self._forest.predict(matrix), dtype=np.float32)


def forest(booster: xgb.Booster) -> native.Forest:
    """The native engine's copy of a binary:logistic gbtree booster with numerical splits only (what
    ``LinkModel.fit`` trains); ModelMismatch for any other kind, whose arithmetic it does not copy."""
    learner = json.loads(booster.save_raw("json"))["learner"]
    booster_kind, objective = learner["gradient_booster"]["name"], learner["objective"]["name"]
    param = learner["learner_model_param"]
    trees = learner["gradient_booster"]["model"]["trees"] if booster_kind == "gbtree" else []
    if (booster_kind, objective) != ("gbtree", "binary:logistic") or any(any(tree["split_type"]) for tree in trees):
        raise ModelMismatch(f"cannot evaluate a {booster_kind} {objective} model with these splits natively")
    base_score = np.atleast_1d(json.loads(param["base_score"]))  # "[4.38E-1]" (xgboost 3) or "4.38E-1"
    if base_score.size != 1:
        raise ModelMismatch(f"cannot evaluate a model of {base_score.size} outputs natively")
    return native.Forest(
        sizes=[len(tree["left_children"]) for tree in trees],
        left=[i for tree in trees for i in tree["left_children"]],
        right=[i for tree in trees for i in tree["right_children"]],
        feature=[i for tree in trees for i in tree["split_indices"]],
        value=[v for tree in trees for v in tree["split_conditions"]],
        default_left=[bool(d) for tree in trees for d in tree["default_left"]],
        base_score=float(base_score[0]),
        features=booster.num_features(),
    )
