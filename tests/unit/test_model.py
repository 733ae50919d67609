"""The XGBoost wrapper: UBJSON round trip, named columns, one batched prediction."""

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
