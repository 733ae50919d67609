"""`addlink bench synth-dump` then `addlink bench train` end to end on a few hundred synthetic articles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scoring.bundle import load_bundle
from scoring.dumps import is_article, iter_pages
from stream.bench.train import rate
from stream.cli import main

EL = Path(__file__).resolve().parents[1] / "data" / "dumps" / "el-sample.xml.bz2"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[dict, Path, Path]:
    tmp = tmp_path_factory.mktemp("bench-train")
    dump, models = tmp / "synthetic.xml.bz2", tmp / "models"
    assert main(["bench", "synth-dump", "--articles", "300", "--source", str(EL), "--out", str(dump), "--seed", "5",
                 "--redirects-per-article", "1.4"]) == 0
    return dump, models


def test_bench_train_reports_figures_that_match_the_dump_and_the_bundle(run, capsys):
    dump, models = run
    capsys.readouterr()
    assert main(["bench", "train", "--dump", str(dump), "--wiki", "synthwiki", "--models", str(models),
                 "--bundles", "3", "--loads", "2", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)

    pages = list(iter_pages(dump))
    assert figures["pages"] == len(pages) > 300
    assert figures["articles"] == sum(is_article(p) for p in pages) == 300
    assert figures["phases_seen"] == ["pass0", "pass1", "pass2", "backtest"]
    phases = figures["dump_pass_seconds"] + figures["contexts_and_fit_seconds"] + figures["backtest_seconds"]
    assert 0 < figures["dump_pass_seconds"] < figures["wall_seconds"] and phases <= figures["wall_seconds"] + 0.2
    assert figures["dump_pass_articles_per_second"] == pytest.approx(300 / figures["dump_pass_seconds"], rel=0.05)
    assert figures["overall_articles_per_second"] == pytest.approx(300 / figures["wall_seconds"], rel=0.05)
    assert 0 < figures["dump_pass_cpu_seconds"] < figures["cpu_seconds"] <= 2 * figures["wall_seconds"]
    assert figures["dump_pass_articles_per_cpu_second"] == pytest.approx(300 / figures["dump_pass_cpu_seconds"], rel=0.05)
    # The child's own peak: a Python with numpy and XGBoost loaded is tens of MB at least.
    assert 50 < figures["peak_rss_mb"] < 4000

    bundle = load_bundle(models, "synthwiki")
    on_disk = {path.name: path.stat().st_size for path in bundle.path.iterdir() if path.name != "manifest.json"}
    assert figures["artifacts_bytes"] == on_disk
    assert figures["bundle_mb"] == round(sum(on_disk.values()) / 2**20, 2)
    assert figures["targets"] == bundle.manifest.training["targets"] > 0
    assert 0 < figures["bundle_load_ms"] <= figures["bundle_load_cold_ms"]
    assert figures["bundles"] == 3 and figures["bundles_rss_mb"] >= 0 and figures["bundle_rss_mb"] >= 0
    assert [p.name for p in models.iterdir() if p.name.startswith(".bench-copies")] == []


def test_bench_train_refuses_a_models_directory_that_has_the_wiki(run, capsys):
    dump, models = run
    (models / "otherwiki").mkdir(parents=True)
    assert main(["bench", "train", "--dump", str(dump), "--wiki", "otherwiki", "--models", str(models)]) == 2
    assert "bench train needs a models directory without otherwiki" in capsys.readouterr().err


@pytest.mark.parametrize(("count", "seconds", "expected"), [(300, 452.0, 0.664), (300, 0.7, 429.0), (5, 0.0, 0.0)])
def test_rates_keep_three_significant_digits_however_slow_the_run(count, seconds, expected):
    assert rate(count, seconds) == expected
