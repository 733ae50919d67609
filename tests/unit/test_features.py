"""Feature rows for every candidate of a page, computed in one vectorised pass."""

import re

import numpy as np
import pytest

from model_fixture import publish_handmade
from scoring.anchors import AnchorSet, Anchors, write_anchors
from scoring.bundle import load_bundle
from scoring.features import FEATURES, MAX_CANDIDATES, feature_tables, page_candidates
from scoring.relatedness import DIM, DocumentFrequencies, TargetContexts, Vectoriser, word_hashes
from scoring.targets import Targets, write_targets


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    publish_handmade(root)
    return load_bundle(root, "testwiki")


def column(batch, name):
    return batch.features[:, FEATURES.index(name)]


def test_rows_per_mention_in_rank_order_with_mwaddlink_features(bundle):
    paris, athens = bundle.anchors.index("paris"), bundle.anchors.index("athens")
    batch = page_candidates(bundle.feature_tables, bundle.targets, np.zeros(DIM, np.float32),
                            np.array([paris, athens]), np.array([0.25, 0.5]), np.array([1, 0]))
    assert batch.features.shape == (3, len(FEATURES)) and batch.features.dtype == np.float32
    assert batch.kept.tolist() == [0, 1] and batch.mention.tolist() == [0, 0, 1]
    assert [bundle.targets.title(t) for t in batch.target] == ["Paris", "Paris (mythology)", "Athens"]
    assert column(batch, "freq").tolist() == [7, 2, 5]
    assert column(batch, "ambig").tolist() == [2, 2, 1]
    assert column(batch, "commonness").tolist() == pytest.approx([7 / 9, 2 / 9, 1.0])
    assert column(batch, "rank").tolist() == [0, 1, 0]
    assert column(batch, "position").tolist() == [0.25, 0.25, 0.5]
    assert column(batch, "capitalised").tolist() == [1, 1, 0]
    assert column(batch, "link_prob").tolist() == pytest.approx([0.8, 0.8, 0.9])
    assert column(batch, "jaro")[0] == pytest.approx(1.0) and column(batch, "jaro")[1] < 1.0
    assert column(batch, "ngram").tolist() == [1, 1, 1]


def test_no_mentions_gives_an_empty_matrix(bundle):
    empty = np.array([], dtype=np.int64)
    batch = page_candidates(bundle.feature_tables, bundle.targets, np.zeros(DIM, np.float32), empty, empty, empty)
    assert batch.features.shape == (0, len(FEATURES)) and batch.target.shape == (0,) and batch.kept.shape == (0,)


def test_a_mention_with_any_candidate_linked_on_the_page_is_dropped(bundle):
    paris, athens = bundle.anchors.index("paris"), bundle.anchors.index("athens")
    mythology = bundle.targets.id_of("Paris (mythology)")  # Paris's second candidate, not its best
    batch = page_candidates(bundle.feature_tables, bundle.targets, np.zeros(DIM, np.float32),
                            np.array([paris, athens]), np.array([0.25, 0.5]), np.array([1, 0]), linked={mythology})
    assert batch.kept.tolist() == [1] and batch.mention.tolist() == [0]
    assert [bundle.targets.title(t) for t in batch.target] == ["Athens"]
    assert column(batch, "position").tolist() == [0.5]


def test_only_the_ten_most_frequent_candidates_are_kept(tmp_path):
    titles = [f"T{i:02d}" for i in range(15)]
    write_anchors(tmp_path, [AnchorSet("x", 0.5, 1, [(i, i + 1) for i in range(15)])], titles)
    write_targets(tmp_path, titles, [], np.ones(15), np.ones(15), np.zeros((15, DIM)))
    anchors, targets = Anchors(tmp_path), Targets(tmp_path)
    batch = page_candidates(feature_tables(anchors, targets), targets, np.zeros(DIM, np.float32),
                            np.array([0, 0]), np.zeros(2), np.zeros(2))
    assert len(batch.target) == 2 * MAX_CANDIDATES and column(batch, "rank").tolist() == list(range(10)) * 2
    assert column(batch, "freq").tolist() == list(range(15, 5, -1)) * 2
    assert column(batch, "ambig").tolist() == [15] * 20
    assert batch.mention.tolist() == [0] * 10 + [1] * 10


def test_relatedness_is_higher_for_a_target_linked_from_similar_pages():
    texts = {
        "volcano": "lava magma eruption crater volcano ash lava magma",
        "football": "goal match striker league football stadium goal match",
    }
    df = DocumentFrequencies()
    for text in texts.values():
        df.add(text)
    vectoriser = Vectoriser(df.idf())
    contexts = TargetContexts(2)
    contexts.add(np.array([0]), vectoriser.page_vector(texts["volcano"]))
    contexts.add(np.array([1]), vectoriser.page_vector(texts["football"]))
    page = vectoriser.page_vector("the eruption sent lava and ash over the crater")
    related = contexts.unit_vectors().astype(np.float32) @ page
    assert related[0] > related[1]
    # Leave-one-out: a page contributed to target 0 only; without it nothing is left.
    alone = contexts.leave_one_out(np.array([0]), vectoriser.page_vector(texts["volcano"]), np.array([True]))
    assert alone.tolist() == [0.0]


def test_spaceless_scripts_are_hashed_as_character_bigrams():
    hashes, counts = word_hashes("東京都 東京")
    assert len(hashes) == 2 and sorted(counts.tolist()) == [1.0, 2.0]  # 東京 twice, 京都 once
    hashes, counts = word_hashes("Athens athens, a 1821")
    assert len(hashes) == 1 and counts.tolist() == [2.0]


def test_code_points_outside_the_classified_planes_are_neither_letters_nor_spaceless():
    """word_hashes' native table is read from the regular expression over ``_CLASSIFIED`` only; that is
    the whole table only while no other code point matches it (true of Python's Unicode data today)."""
    from scoring.relatedness import _CLASSES, _CLASSIFIED  # noqa: PLC0415 - the private rule under test

    covered = np.zeros(0x110000, dtype=bool)
    for first, end in _CLASSIFIED:
        covered[first:end] = True
    outside = "".join(map(chr, np.flatnonzero(~covered).tolist()))
    assert re.search(_CLASSES, outside) is None
    assert re.search(_CLASSES, "".join(map(chr, np.flatnonzero(covered).tolist())))
