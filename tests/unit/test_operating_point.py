"""The operating point: a margin shift chosen on out-of-fold predictions (scoring/operating_point.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scoring.examples import SentenceRows
from scoring.features import FEATURES
from scoring.model import LinkModel
from scoring.operating_point import choose_shift, mention_starts, operating_point, out_of_fold_margins, point_for
from scoring.tune import Tuning


def test_mention_starts_split_rows_by_article_and_position() -> None:
    groups = np.array([0, 0, 0, 1, 1, 1])
    positions = np.array([0.1, 0.1, 0.4, 0.4, 0.4, 0.9], dtype=np.float32)
    assert mention_starts(groups, positions).tolist() == [0, 2, 3, 5]


def test_the_most_recall_confidently_above_the_gate_wins_else_no_shift() -> None:
    # Four mentions, each with its best candidate first. Margins of the best rows: 2 (right),
    # 0.5 (right), -0.6 (wrong), -1.2 (right); a second candidate never counts, even when right.
    margins = np.array([2.0, -3.0, 0.5, -0.6, -4.0, -1.2])
    labels = np.array([1, 0, 1, 0, 1, 1], dtype=np.float32)
    starts = np.array([0, 2, 3, 5])
    shifts = (0.0, 1.0, 1.5)
    # shift 0: 2 picks, 2 right -> P 1, R 2/4; shift 1: 3 picks (the wrong one too) -> P 2/3, R 2/4;
    # shift 1.5: all four -> P 3/4, R 3/4. Distances above the gate in standard errors at the bar,
    # sqrt(p (1 - p) / (n * test_size)) with n the picks (precision) or the 4 gold links (recall).
    # A test split 4x these rows, gate 0.5 / 0.25: shift 0 stands min(2.83, 2.31), shift 1 min(1.15,
    # 2.31), shift 1.5 min(2.0, 4.62); 0 and 1.5 stand >= 1.645 and 1.5 has more recall.
    point = choose_shift(margins, labels, starts, min_precision=0.5, min_recall=0.25, test_size=4.0, shifts=shifts)
    assert (point.shift, point.precision, point.recall) == (1.5, 0.75, 0.75)
    # None confident (test_size 1, gate 0.5 / 0.5: shift 0 stands min(1.41, 0), shift 1 min(0.58, 0),
    # shift 1.5 min(1.0, 1.0)): the rows cannot place the bar, so no shift, with its figures.
    point = choose_shift(margins, labels, starts, min_precision=0.5, min_recall=0.5, test_size=1.0, shifts=shifts)
    assert (point.shift, point.precision, point.recall) == (0.0, 1.0, 0.5)


def test_recall_counts_every_gold_link_when_told_how_many() -> None:
    margins, labels, starts = np.array([1.0, -1.0]), np.array([1, 1], dtype=np.float32), np.array([0, 1])
    point = choose_shift(margins, labels, starts, gold=8, shifts=(0.0,))
    assert (point.precision, point.recall) == (1.0, 1 / 8)  # 6 gold links were never candidates


def test_equal_recall_goes_to_the_lower_shift() -> None:
    margins, labels, starts = np.array([1.0]), np.array([1], dtype=np.float32), np.array([0])
    point = choose_shift(margins, labels, starts, test_size=100.0, shifts=(0.0, -0.5, -2.0))  # -2.0 picks nothing
    assert point.shift == -0.5


def _model(rows: int = 400) -> tuple[LinkModel, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(rows, len(FEATURES))).astype(np.float32)
    labels = (features[:, 0] + rng.normal(scale=0.5, size=rows) > 0.5).astype(np.float32)
    return LinkModel.fit(features, labels, FEATURES, n_jobs=1, rounds=10), features, labels


def test_a_shifted_model_adds_the_shift_to_every_margin_and_keeps_it_when_saved(tmp_path: Path) -> None:
    model, features, _ = _model()
    moved = model.shifted(1.25)
    before = model.booster.inplace_predict(features, predict_type="margin")
    after = moved.booster.inplace_predict(features, predict_type="margin")
    np.testing.assert_allclose(after - before, 1.25, atol=1e-5)
    # The native trees read the moved intercept: scores stay bit-identical to xgboost's own.
    expected = np.asarray(moved.booster.inplace_predict(features, missing=np.nan), dtype=np.float32)
    assert np.array_equal(moved.predict(features).view(np.uint32), expected.view(np.uint32))
    moved.save(tmp_path / "model.ubj")
    np.testing.assert_allclose(LinkModel.load(tmp_path / "model.ubj", FEATURES).predict(features), moved.predict(features),
                               atol=1e-6)
    np.testing.assert_allclose(model.booster.inplace_predict(features, predict_type="margin"), before)  # not mutated


def test_operating_point_is_deterministic_and_needs_folds() -> None:
    _, features, labels = _model()
    groups = np.arange(len(labels)) // 10
    sentences = SentenceRows(features[::4], labels[::4], groups[::4], int(labels[::4].sum()) + 5)
    tuning = Tuning({"max_depth": 2}, 10, 0.5, 3)
    first = operating_point(features, labels, groups, tuning, sentences, n_jobs=1)
    assert first == operating_point(features, labels, groups, tuning, sentences, n_jobs=1)
    assert 0.0 < first.precision <= 1.0 and 0.0 < first.recall < 1.0
    unfolded = operating_point(features, labels, groups, Tuning({}, 10, float("nan"), 0), sentences, n_jobs=1)
    assert unfolded.shift == 0.0 and unfolded.summary() == {"margin_shift": 0.0}


def test_each_held_out_row_is_scored_by_a_model_that_never_saw_its_group() -> None:
    # Each group's label is arbitrary and its only feature is the group's number: a model that saw a
    # group reproduces its label, one that did not can only guess from the neighbouring groups.
    rng = np.random.default_rng(1)
    group_labels = rng.integers(0, 2, size=60).astype(np.float32)
    groups = np.repeat(np.arange(60), 5)
    features = np.zeros((len(groups), len(FEATURES)), dtype=np.float32)
    features[:, 0] = groups
    labels = group_labels[groups]
    params = {"max_depth": 6, "eta": 1.0, "min_child_weight": 0.0, "lambda": 0.0}
    seen = out_of_fold_margins(features, labels, groups, FEATURES, features, groups, params=params, rounds=30,
                               folds=3)
    right = (seen > 0) == (labels > 0)
    assert right.mean() < 0.75  # out of fold: a guess
    fitted = LinkModel.fit(features, labels, FEATURES, n_jobs=1, rounds=30, params=params)
    assert ((fitted.predict(features) > 0.5) == (labels > 0)).mean() == 1.0  # in fold it would be exact


@pytest.mark.parametrize("shift", [-1.0, 2.0])
def test_a_shift_never_changes_which_candidate_is_best(shift: float) -> None:
    model, features, _ = _model(50)
    moved = model.shifted(shift)
    for rows in np.split(np.arange(50), 10):
        assert np.argmax(model.predict(features[rows])) == np.argmax(moved.predict(features[rows]))


def test_a_fitted_models_point_on_a_wikis_sentences_moves_its_right_picks_over_the_bar() -> None:
    model, features, labels = _model()
    margins = model.booster.inplace_predict(features, predict_type="margin")
    # Sentences whose right pairs all sit a little below the bar: the shift must lift them over it.
    chosen = (margins < 0) & (margins > -1.5)
    rows = features[chosen]
    sentences = SentenceRows(rows, np.ones(len(rows), dtype=np.float32), np.arange(len(rows)), len(rows))
    point = point_for(model, sentences)
    assert 0 < point.shift <= 1.5 and point.recall == 1.0
    assert np.all(model.shifted(point.shift).predict(rows) >= 0.5)
    assert point_for(model, SentenceRows(rows[:0], labels[:0], np.arange(0), 0)).shift == 0.0
