"""Hyper-parameters by grouped cross-validation (scoring.tune)."""

import numpy as np

from scoring.features import FEATURES
from scoring.model import LinkModel
import scoring.tune as tune_module
from scoring.tune import _Hopeless, choose, group_folds, whole_units


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


def test_samples_are_whole_units_drawn_the_same_way_every_time():
    units = np.repeat(np.arange(200), 10)
    kept = whole_units(units, 500)
    assert kept.sum() == 500 and all(len(set(kept[units == a])) == 1 for a in range(200))
    assert np.array_equal(kept, whole_units(units.copy(), 500))
    assert whole_units(units, 10, minimum=3).sum() == 30, "at least `minimum` units, even over the limit"
    assert whole_units(units, 2000).all()


def test_a_setting_that_cannot_win_is_stopped_early_and_the_choice_is_the_full_searchs():
    features, labels, groups = interaction_rows(articles=90)
    grid = [{"max_depth": 1, "min_child_weight": 1.0}, {"max_depth": 3, "min_child_weight": 1.0}]
    stops = []

    class Seen(_Hopeless):
        def after_iteration(self, model, epoch, evals_log):
            stop = super().after_iteration(model, epoch, evals_log)
            stops.append((self.best, epoch, stop))
            return stop

    tune_module._Hopeless, original = Seen, _Hopeless
    try:
        tuning = choose(features, labels, groups, FEATURES, grid=grid, max_rounds=300, n_jobs=1)
    finally:
        tune_module._Hopeless = original
    assert tuning.params == {"max_depth": 3, "min_child_weight": 1.0} and tuning.rows == len(labels)
    stopped = [epoch for best, epoch, stop in stops if stop]
    assert len(stopped) == 1 and stopped[0] < 100, "depth 1 (run after depth 3) stops long before 300 rounds"
    # Rounds and loss are those of the winner searched alone at the final eta.
    alone = choose(features, labels, groups, FEATURES, grid=grid[1:], max_rounds=300, n_jobs=1)
    assert (tuning.rounds, tuning.cv_logloss) == (alone.rounds, alone.cv_logloss)
    assert tuning.summary()["cv_rows"] == len(labels)


def test_hopeless_waits_while_a_setting_can_still_win():
    rounds = [(1.0 - 0.01 * i, 0.0) for i in range(40)]  # still falling fast: 0.61 after 40 of 100 rounds
    assert not _Hopeless(0.2, 100).after_iteration(None, 39, {"test": {"logloss": rounds}})
    assert _Hopeless(0.2, 45).after_iteration(None, 39, {"test": {"logloss": rounds}})
    beaten = [(0.1, 0.0)] + rounds[1:]  # was below the best already: never stopped
    assert not _Hopeless(0.2, 45).after_iteration(None, 39, {"test": {"logloss": beaten}})


def test_the_same_rows_give_the_same_model_bytes(tmp_path):
    features, labels, groups = interaction_rows(articles=90)
    saved = []
    for run in range(2):
        tuning = choose(features, labels, groups, FEATURES, max_rounds=40, n_jobs=2)
        LinkModel.fit(features, labels, FEATURES, n_jobs=2, rounds=tuning.rounds, params=tuning.params).save(
            tmp_path / f"{run}.ubj")
        saved.append((tmp_path / f"{run}.ubj").read_bytes())
    assert saved[0] == saved[1]


def test_a_shared_models_groups_are_whole_wikis_and_its_samples_whole_articles():
    features, labels, articles = interaction_rows(articles=90)
    wikis = articles % 2
    tuning = choose(features, labels, wikis, FEATURES, units=articles, max_rounds=40, n_jobs=1, round_rows=1200)
    assert tuning.folds == 2 and tuning.rows == 1200, "whole articles of both wikis"
