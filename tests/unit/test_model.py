"""The XGBoost wrapper: UBJSON round trip, named columns, one batched prediction."""

import json

import numpy as np
import pytest

from scoring.features import FEATURES
from scoring.model import LinkModel, ModelMismatch


@pytest.fixture(scope="module")
def model() -> LinkModel:
    rng = np.random.default_rng(0)
    features = rng.random((400, len(FEATURES)), dtype=np.float32)
    labels = (features[:, FEATURES.index("link_prob")] > 0.5).astype(np.float32)
    features[::7, FEATURES.index("kurtosis")] = np.nan  # missing values are allowed
    return LinkModel.fit(features, labels, FEATURES, n_jobs=1, rounds=20)


def test_learns_the_signal_and_predicts_probabilities(model):
    rows = np.full((2, len(FEATURES)), 0.5, dtype=np.float32)
    rows[0, FEATURES.index("link_prob")] = 0.9
    rows[1, FEATURES.index("link_prob")] = 0.1
    scores = model.predict(rows)
    assert scores.dtype == np.float32 and scores.shape == (2,)
    assert scores[0] > 0.8 > 0.2 > scores[1]


def test_empty_matrix_gives_empty_scores(model):
    assert model.predict(np.zeros((0, len(FEATURES)), dtype=np.float32)).shape == (0,)


def test_save_load_round_trip_is_ubjson_and_identical(model, tmp_path):
    path = tmp_path / "model.ubj"
    model.save(path)
    assert path.read_bytes()[:1] == b"{"  # UBJSON object marker, not JSON text or a pickle
    assert b'"learner"' not in path.read_bytes()  # binary: keys are length-prefixed, not quoted
    loaded = LinkModel.load(path, FEATURES)
    rows = np.random.default_rng(1).random((50, len(FEATURES)), dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict(rows), model.predict(rows))


def test_refuses_a_model_with_other_columns(model, tmp_path):
    path = tmp_path / "model.ubj"
    model.save(path)
    with pytest.raises(ModelMismatch):
        LinkModel.load(path, FEATURES[::-1])
    with pytest.raises(ModelMismatch):
        LinkModel.load(path, FEATURES[:-1])


def _rows_near_every_threshold(model: LinkModel, rng: np.random.Generator) -> np.ndarray:
    """Rows holding each split's threshold exactly, the float32 on either side of it, and NaN, so
    every comparison and missing-value branch of the trees is taken both ways."""
    trees = json.loads(model.booster.save_raw("json"))["learner"]["gradient_booster"]["model"]["trees"]
    splits = [(column, np.float32(threshold)) for tree in trees
              for column, threshold, left in zip(tree["split_indices"], tree["split_conditions"], tree["left_children"])
              if left >= 0]
    rows = rng.random((4 * len(splits), len(FEATURES)), dtype=np.float32)
    for i, (column, threshold) in enumerate(splits):
        below, above = np.nextafter(threshold, np.float32(-np.inf)), np.nextafter(threshold, np.float32(np.inf))
        for j, value in enumerate((threshold, below, above, np.nan)):
            rows[4 * i + j, column] = value
    return rows


@pytest.mark.parametrize("depth,rounds", [(2, 20), (6, 300)])
def test_native_trees_score_bit_identically_to_xgboost(depth, rounds):
    rng = np.random.default_rng(depth)
    features = rng.normal(size=(2000, len(FEATURES))).astype(np.float32)
    labels = ((features[:, 0] + features[:, 1] * features[:, 2]) > 0.3).astype(np.float32)
    features[rng.random(features.shape) < 0.1] = np.nan
    model = LinkModel.fit(features, labels, FEATURES, n_jobs=1, rounds=rounds, params={"max_depth": depth, "eta": 0.3})
    rows = np.concatenate([features, _rows_near_every_threshold(model, rng), 50 * features[:200]])
    expected = model.booster.inplace_predict(rows, missing=np.nan, validate_features=False)
    scores = model.predict(rows)
    assert scores.dtype == np.float32 and len(np.unique(scores)) > 100
    assert np.array_equal(scores.view(np.uint32), np.asarray(expected, dtype=np.float32).view(np.uint32))


def test_predict_does_not_call_xgboost(model, monkeypatch):
    rows = np.random.default_rng(2).random((5, len(FEATURES)), dtype=np.float32)
    expected = model.predict(rows)
    monkeypatch.setattr(model.booster, "inplace_predict", None)
    assert np.array_equal(model.predict(rows), expected)


def test_a_model_whose_arithmetic_is_not_copied_is_refused(model):
    features = np.random.default_rng(3).random((100, len(FEATURES)), dtype=np.float32)
    labels = (features[:, 0] > 0.5).astype(np.float32)
    dart = LinkModel.fit(features, labels, FEATURES, n_jobs=1, rounds=3, params={"booster": "dart"})
    with pytest.raises(ModelMismatch):
        dart.predict(features)
