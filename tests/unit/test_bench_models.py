"""`addlink bench models`: the per-wiki table of own, shared and leave-one-wiki-out models."""

import json

from model_fixture import DATA, LTG_EXCERPT
from scoring.bundle import load_bundle
from stream.bench.models import ModelCell, bench_models, render
from stream.cli import main

# The Greek and Ukrainian excerpts are too small to hold test sentences with gold; Latgalian's has some.
DUMPS = [DATA / "dumps" / "el-sample.xml.bz2", DATA / "dumps" / "uk-sample.xml.bz2", LTG_EXCERPT]


def test_every_wiki_gets_own_shared_and_leave_one_out_cells_in_both_units(tmp_path):
    cells = bench_models(DUMPS, tmp_path, max_rounds=20, n_jobs=1, log=lambda _: None)
    wikis = ["elwiki", "ukwiki", "ltgwiki"]
    assert {(c.wiki, c.model, c.protocol) for c in cells} == {
        (w, m, p) for w in wikis for m in ("own", "shared", "leave-one-out") for p in ("mwaddlink-sentence", "page-level")
    }
    shared = json.loads((tmp_path / "_shared" / "pooled" / "manifest.json").read_text())
    assert sorted(shared["wikis"]) == sorted(wikis)
    left_out = json.loads((tmp_path / "_shared" / "without-ukwiki" / "manifest.json").read_text())
    assert sorted(left_out["wikis"]) == ["elwiki", "ltgwiki"], "the held-out wiki's rows never reach its model"
    own = {(c.wiki, c.protocol): c for c in cells if c.model == "own"}
    for wiki in wikis:  # the own cells are the backtest stored at training, not a second evaluation
        stored = load_bundle(tmp_path, wiki).manifest.backtest_mwaddlink.at(0.5)
        assert (own[(wiki, "mwaddlink-sentence")].precision, own[(wiki, "mwaddlink-sentence")].gold) == (
            stored.precision, stored.gold)
    for cell in (c for c in cells if c.wiki == "ltgwiki"):
        assert 0.0 <= cell.precision <= 1.0 and 0.0 <= cell.recall <= 1.0 and cell.gold > 0
        assert cell.reachable is not None and 0.0 < cell.reachable <= 1.0
    # The same wiki's gold does not depend on the model judging it.
    gold = {(c.wiki, c.protocol, c.gold) for c in cells}
    assert len(gold) == len(wikis) * 2


def test_render_marks_the_gate_on_the_mwaddlink_protocol_only():
    cells = [
        ModelCell("xwiki", "own", "mwaddlink-sentence", 0.80, 0.19, 10, 50, 0.4),
        ModelCell("xwiki", "own", "page-level", 0.90, 0.50, 10, 50, 0.5),
        ModelCell("ywiki", "shared", "mwaddlink-sentence", 0.75, 0.20, 10, 50, None),
        ModelCell("ywiki", "shared", "page-level", 0.10, 0.10, 10, 50, 0.5),
    ]
    lines = render(cells, 0.5).splitlines()
    assert "| xwiki | own | 0.80 | 0.19 | FAIL | 0.90 | 0.50 | 0.40 / 0.50 |" in lines
    assert "| ywiki | shared | 0.75 | 0.20 | pass | 0.10 | 0.10 | n/a / 0.50 |" in lines


def test_one_dump_is_refused_before_any_training(tmp_path, capsys):
    assert main(["bench", "models", "--dump", str(DUMPS[0]), "--models", str(tmp_path)]) != 0
    assert "at least two wikis" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
