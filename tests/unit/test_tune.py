"""Hyper-parameters by grouped cross-validation (scoring.tune)."""

import numpy as np

from scoring.features import FEATURES
from scoring.tune import choose, group_folds


def test_folds_keep_every_row_of_an_article_together():
    groups = np.array([0, 0, 1, 1, 1, 2, 3, 3, 4, 7, 7])
    folds = group_folds(groups, 3)
    assert sorted(np.concatenate([held for _, held in folds]).tolist()) == list(range(len(groups)))
    for train, held in folds:
        assert set(groups[train]).isdisjoint(groups[held]) and len(held) > 0


def interaction_rows(articles: int = 60, per_article: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels that need two features at once (an XOR): a depth-1 tree cannot see them."""
    rng = np.random.default_rng(1)
    features = rng.random((articles * per_article, len(FEATURES)), dtype=np.float32)
    labels = ((features[:, 0] > 0.5) ^ (features[:, 1] > 0.5)).astype(np.float32)
    return features, labels, np.repeat(np.arange(articles), per_article)


def test_choose_prefers_the_setting_with_the_lower_held_out_loss():
    features, labels, groups = interaction_rows()
    grid = [{"max_depth": 1, "min_child_weight": 1.0}, {"max_depth": 3, "min_child_weight": 1.0}]
    tuning = choose(features, labels, groups, FEATURES, grid=grid, max_rounds=80, n_jobs=1)
    assert tuning.params == {"max_depth": 3, "min_child_weight": 1.0} and tuning.folds == 3
    assert 1 <= tuning.rounds <= 80 and tuning.cv_logloss < 0.4
    assert tuning.summary()["cv_folds"] == 3 and tuning.summary()["rounds"] == tuning.rounds


def test_one_article_cannot_be_cross_validated_and_keeps_the_defaults():
    features, labels, _ = interaction_rows(articles=1)
    tuning = choose(features, labels, np.zeros(len(labels), dtype=np.int64), FEATURES, max_rounds=20)
    assert (tuning.params, tuning.rounds, tuning.folds) == ({}, 20, 0)
    assert tuning.summary() == {"rounds": 20, "cv_folds": 0}
