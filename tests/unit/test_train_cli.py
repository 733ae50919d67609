"""The four scoring commands end to end through `addlink` (stream.cli.main), on the ltg excerpt."""

import io
import json
import sys

import pytest

from model_fixture import LTG_EXCERPT, trained_models
from scoring.bundle import load_bundle
from scoring.dumps import is_article, iter_pages, split_of
from stream.cli import main


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return trained_models(tmp_path_factory.getbasetemp() / "ltg-models")


def _unlearnable_dump(path):
    """Training articles link Athens and Sparta, and half of them Rome; test articles link only Corinth,
    which nothing in training names: recall is 0 on the test articles whatever the model."""
    train_ids = [i for i in range(100, 600) if split_of(i) == "train"][:40]
    test_ids = [i for i in range(100, 600) if split_of(i) == "test"][:10]
    pages = [(i, f"Story {i}", f"[[Athens]] met [[Sparta]] in spring. {'[[Rome]]' if n % 2 else 'Rome'} watched.")
             for n, i in enumerate(train_ids)]
    pages += [(i, f"Trip {i}", "We went to [[Corinth]] by sea. It was far.") for i in test_ids]
    path.write_text(
        '<mediawiki xml:lang="en"><siteinfo><namespaces><namespace key="0" case="first-letter" /></namespaces></siteinfo>'
        + "".join(f"<page><title>{title}</title><ns>0</ns><id>{i}</id><revision><id>{i}</id>"
                  f"<timestamp>2023-01-01T00:00:00Z</timestamp><model>wikitext</model><text>{text}</text></revision></page>"
                  for i, title, text in pages)
        + "</mediawiki>\n", encoding="utf-8")
    return path


def test_train_refuses_a_model_below_the_gate_with_exit_3(tmp_path, capsys):
    dump = _unlearnable_dump(tmp_path / "unlearnable.xml")
    code = main(["train", "--wiki", "testwiki", "--dump", str(dump), "--models", str(tmp_path / "models"), "--quiet"])
    assert code == 3
    assert "not published" in capsys.readouterr().err
    assert list((tmp_path / "models").iterdir()) == []


def test_forced_bundle_records_backtest_gate_and_checksums(models):
    manifest = load_bundle(models, "ltgwiki", verify=True).manifest
    assert manifest.wiki == "ltgwiki" and manifest.language == "ltg" and manifest.format_version == 2
    gate = manifest.gate
    assert gate is not None and gate.passed == (gate.precision >= 0.75 and gate.recall >= 0.2)
    assert gate.forced == (not gate.passed)  # trained with force=True: forced only when it failed
    # The gate reads mwaddlink's sentence unit; the page-level table stays beside it.
    sentences = manifest.backtest_mwaddlink
    assert sentences.protocol == "mwaddlink-sentence" and manifest.backtest.protocol == "page-level"
    assert (manifest.gate.precision, manifest.gate.recall) == (sentences.at(0.5).precision, sentences.at(0.5).recall)
    assert sentences.articles > 10 and 0 < sentences.reachable <= sentences.at(0.5).gold
    # Hyper-parameters came from cross-validation over the training articles.
    assert manifest.training["cv_folds"] == 3 and manifest.training["cv_logloss"] > 0
    assert {"max_depth", "min_child_weight", "rounds"} <= set(manifest.training)
    assert [row.threshold for row in manifest.backtest.thresholds] == [round(0.1 * i, 1) for i in range(10)]
    assert manifest.backtest.articles > 20 and manifest.training["train_articles"] > 100
    assert {"model.ubj", "anchors.fst", "target_vectors.npy", "idf.npy"} <= set(manifest.artifacts)


def test_evaluate_json_reproduces_the_bundle_backtest(models, capsys):
    assert main(["evaluate", "--wiki", "ltgwiki", "--models", str(models), "--dump", str(LTG_EXCERPT), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert list(printed) == ["wiki", "articles", "thresholds", "protocol", "reachable", "page_level"]
    assert all(list(row) == ["threshold", "precision", "recall", "predicted", "gold"] for row in printed["thresholds"])
    manifest = load_bundle(models, "ltgwiki").manifest
    page_level = printed.pop("page_level")
    assert printed == manifest.backtest_mwaddlink.model_dump(mode="json") and printed["protocol"] == "mwaddlink-sentence"
    assert page_level.pop("gold_excluded") == manifest.gold_excluded
    assert page_level == manifest.backtest.model_dump(mode="json") and page_level["protocol"] == "page-level"


def test_score_reads_stdin_and_prints_gelr_data(models, capsys, monkeypatch):
    page = next(p for p in iter_pages(LTG_EXCERPT) if is_article(p) and len(p.text) > 3000)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(page.text.encode("utf-8"))))
    args = ["score", "--wiki", "ltgwiki", "--models", str(models), "--title", page.title, "--revid", str(page.rev_id),
            "--pageid", str(page.page_id), "--threshold", "0.0", "--max", "3", "--exclude-section", "Nūruodis"]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data) == ["links", "meta"] and len(data["links"]) <= 3
    assert data["meta"]["format_version"] == 1 and "model" in data["meta"]["dataset_checksums"]


def test_score_of_an_unknown_wiki_is_a_one_line_error(models, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"text")))
    args = ["score", "--wiki", "xxwiki", "--models", str(models), "--title", "T", "--revid", "1", "--pageid", "1"]
    assert main(args) == 2
    assert "no model bundle for wiki 'xxwiki'" in capsys.readouterr().err


def test_bench_score_prints_figures(models, capsys):
    args = ["bench", "score", "--wiki", "ltgwiki", "--models", str(models), "--dump", str(LTG_EXCERPT),
            "--limit", "20", "--warmup", "2", "--json"]
    assert main(args) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["articles"] == 20 and figures["articles_per_second"] > 0
    assert figures["latency_p50_ms"] <= figures["latency_p99_ms"] and figures["bundle_load_ms"] < 1000
    assert figures["rss_after_run_mb"] > 0
