"""The operating point: a margin shift chosen on out-of-fold predictions (scoring/operating_point.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scoring.features import FEATURES
from scoring.model import LinkModel
from scoring.operating_point import choose_shift, mention_starts, operating_point, shifted
from scoring.tune import Tuning


def test_mention_starts_split_rows_by_article_and_position() -> None:
    groups = np.array([0, 0, 0, 1, 1, 1])
    positions = np.array([0.1, 0.1, 0.4, 0.4, 0.4, 0.9], dtype=np.float32)
    assert mention_starts(groups, positions).tolist() == [0, 2, 3, 5]


def test_the_shift_with_most_recall_above_the_precision_floor_wins() -> None:
    # Four mentions, each with its best candidate first. Margins of the best rows: 2 (right),
    # 0.5 (right), -0.6 (wrong), -1.2 (right); a second candidate never counts, even when right.
    margins = np.array([2.0, -3.0, 0.5, -0.6, -4.0, -1.2])
    labels = np.array([1, 0, 1, 0, 1, 1], dtype=np.float32)
    starts = np.array([0, 2, 3, 5])
    shifts = (0.0, 1.0, 1.5)
    # shift 0: 2 taken, 2 right -> P 1, R 2/4; shift 1: 3 taken (the wrong one too) -> P 2/3, R 2/4;
    # shift 1.5: all four -> P 3/4, R 3/4.
    point = choose_shift(margins, labels, starts, target_precision=0.7, shifts=shifts)
    assert (point.shift, point.precision, point.recall) == (1.5, 0.75, 0.75)
    point = choose_shift(margins, labels, starts, target_precision=0.8, shifts=shifts)
    assert (point.shift, point.precision, point.recall) == (0.0, 1.0, 0.5)


def test_when_no_shift_reaches_the_floor_the_most_precise_one_wins() -> None:
    margins = np.array([1.0, 0.5, -0.5])
    labels = np.array([0, 1, 0], dtype=np.float32)
    point = choose_shift(margins, labels, np.array([0, 1, 2]), target_precision=0.9, shifts=(-1.0, 0.0, 1.0))
    assert (point.shift, point.precision) == (0.0, 0.5)


def _model(rows: int = 400) -> tuple[LinkModel, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(rows, len(FEATURES))).astype(np.float32)
    labels = (features[:, 0] + rng.normal(scale=0.5, size=rows) > 0.5).astype(np.float32)
    return LinkModel.fit(features, labels, FEATURES, n_jobs=1, rounds=10), features, labels


def test_a_shifted_model_adds_the_shift_to_every_margin_and_keeps_it_when_saved(tmp_path: Path) -> None:
    model, features, _ = _model()
    moved = shifted(model, 1.25)
    before = model.booster.inplace_predict(features, predict_type="margin")
    after = moved.booster.inplace_predict(features, predict_type="margin")
    np.testing.assert_allclose(after - before, 1.25, atol=1e-5)
    moved.save(tmp_path / "model.ubj")
    np.testing.assert_allclose(LinkModel.load(tmp_path / "model.ubj", FEATURES).predict(features), moved.predict(features),
                               atol=1e-6)
    np.testing.assert_allclose(model.booster.inplace_predict(features, predict_type="margin"), before)  # not mutated


def test_operating_point_is_deterministic_and_needs_folds() -> None:
    _, features, labels = _model()
    groups = np.arange(len(labels)) // 10
    tuning = Tuning({"max_depth": 2}, 10, 0.5, 3)
    first = operating_point(features, labels, groups, tuning, n_jobs=1)
    assert first == operating_point(features, labels, groups, tuning, n_jobs=1)
    assert 0.0 < first.precision <= 1.0 and 0.0 < first.recall <= 1.0
    unfolded = operating_point(features, labels, groups, Tuning({}, 10, float("nan"), 0), n_jobs=1)
    assert unfolded.shift == 0.0 and unfolded.summary() == {"margin_shift": 0.0}


@pytest.mark.parametrize("shift", [-1.0, 2.0])
def test_a_shift_never_changes_which_candidate_is_best(shift: float) -> None:
    model, features, _ = _model(50)
    moved = shifted(model, shift)
    for rows in np.split(np.arange(50), 10):
        assert np.argmax(model.predict(features[rows])) == np.argmax(moved.predict(features[rows]))
