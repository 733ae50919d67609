"""One shared model for many wikis (scoring.shared, addlink train-shared / train --shared-model)."""

import json

import numpy as np
import pytest

from model_fixture import DATA, LTG_EXCERPT, publish_handmade
from scoring.bundle import MODEL_FILE, ROWS_FILE, BundleError, load_bundle, sha256_file
from scoring.features import FEATURES
from scoring.model import LinkModel
from scoring.shared import train_shared
from scoring.train import train
from stream.cli import main

EL_SAMPLE = DATA / "dumps" / "el-sample.xml.bz2"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """ltgwiki and elwiki bundles with their own models (forced: the excerpts are too small for the gate),
    and the shared model "both" fitted on their pooled rows."""
    root = tmp_path_factory.mktemp("shared-models")
    train(LTG_EXCERPT, root, wiki="ltgwiki", force=True, max_rounds=40, n_jobs=1, progress=False)
    train(EL_SAMPLE, root, wiki="elwiki", force=True, max_rounds=40, n_jobs=1, progress=False)
    train_shared(root, "both", ["ltgwiki", "elwiki"], max_rounds=40, n_jobs=1)
    return root


def stored_rows(models, wiki):
    bundle = load_bundle(models, wiki)
    with np.load(bundle.path / ROWS_FILE, allow_pickle=False) as rows:
        return rows["features"], rows["labels"], bundle.manifest.artifacts[ROWS_FILE].sha256


def test_shared_model_pools_the_rows_each_bundle_stores(models):
    manifest = json.loads((models / "_shared" / "both" / "manifest.json").read_text())
    ltg, el = stored_rows(models, "ltgwiki"), stored_rows(models, "elwiki")
    assert len(ltg[1]) == load_bundle(models, "ltgwiki").manifest.training["rows"]
    assert manifest["rows"] == len(ltg[1]) + len(el[1]) and manifest["positives"] == int(ltg[1].sum() + el[1].sum())
    assert manifest["wikis"] == {"ltgwiki": ltg[2], "elwiki": el[2]}
    assert manifest["tuning"]["cv_folds"] == 2, "each fold holds out a whole wiki"
    assert manifest["search_rows"] == manifest["rows"], "below SEARCH_ROWS the search sees every row"


def test_search_on_many_rows_sees_whole_articles_sampled_and_the_fit_every_row(models):
    manifest = train_shared(models, "sampled", ["ltgwiki", "elwiki"], max_rounds=20, n_jobs=1, search_rows=300)
    assert manifest.rows == len(stored_rows(models, "ltgwiki")[1]) + len(stored_rows(models, "elwiki")[1])
    assert 0 < manifest.search_rows < manifest.rows


def test_a_shared_model_name_is_never_rewritten(models):
    before = sha256_file(models / "_shared" / "both" / MODEL_FILE)
    with pytest.raises(FileExistsError):
        train_shared(models, "both", ["ltgwiki"], max_rounds=5, n_jobs=1)
    assert sha256_file(models / "_shared" / "both" / MODEL_FILE) == before


def test_a_bundle_without_training_rows_cannot_be_pooled(tmp_path):
    publish_handmade(tmp_path)
    with pytest.raises(BundleError, match="training_rows"):
        train_shared(tmp_path, "x", ["testwiki"], max_rounds=5, n_jobs=1)
    assert not (tmp_path / "_shared" / "x").exists()


def test_bundle_naming_the_shared_model_scores_with_it_and_reports_its_checksum(models, capsys):
    code = main(["train", "--wiki", "ltgwiki", "--dump", str(LTG_EXCERPT), "--models", str(models), "--quiet",
                 "--force", "--shared-model", "both"])
    assert code == 0 and "model: shared both" in capsys.readouterr().out
    bundle = load_bundle(models, "ltgwiki", verify=True)
    shared_file = models / "_shared" / "both" / MODEL_FILE
    assert MODEL_FILE not in bundle.manifest.artifacts and bundle.manifest.shared_model.name == "both"
    assert bundle.dataset_checksums["model"] == sha256_file(shared_file) == bundle.manifest.shared_model.sha256
    rows = stored_rows(models, "ltgwiki")[0]
    shift = bundle.manifest.shared_model.margin_shift  # the wiki's own operating point on the shared booster
    assert shift == bundle.manifest.training["margin_shift"]
    assert np.array_equal(bundle.model.predict(rows), LinkModel.load(shared_file, FEATURES).shifted(shift).predict(rows))
    # evaluate --shared-model on the bundle's own model gives what the shared bundle stored
    main(["train", "--wiki", "ltgwiki", "--dump", str(LTG_EXCERPT), "--models", str(models), "--quiet", "--force"])
    capsys.readouterr()
    assert main(["evaluate", "--wiki", "ltgwiki", "--models", str(models), "--dump", str(LTG_EXCERPT), "--json",
                 "--shared-model", "both"]) == 0
    printed = json.loads(capsys.readouterr().out)
    page_level = printed.pop("page_level")
    page_level.pop("gold_excluded")
    assert printed == bundle.manifest.backtest_mwaddlink.model_dump(mode="json")
    assert page_level == bundle.manifest.backtest.model_dump(mode="json")


def test_a_changed_shared_model_is_refused(models):
    main(["train", "--wiki", "elwiki", "--dump", str(EL_SAMPLE), "--models", str(models), "--quiet", "--force",
          "--shared-model", "both"])
    shared_file = models / "_shared" / "both" / MODEL_FILE
    original = shared_file.read_bytes()
    try:
        shared_file.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))  # same size, other bytes
        with pytest.raises(BundleError, match="sha256"):
            load_bundle(models, "elwiki", verify=True)
        shared_file.write_bytes(original + b" ")
        with pytest.raises(BundleError, match="not the one the bundle names"):
            load_bundle(models, "elwiki")
    finally:
        shared_file.write_bytes(original)
