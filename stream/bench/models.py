"""`addlink bench models`: the per-wiki model table — own model, shared model, leave-one-wiki-out.

For every dump given (one wiki each, its id and language from the dump's siteinfo):
1. `own`: `train(..., force=True)` fits the wiki's own model (hyper-parameters by grouped
   cross-validation on its training articles) and backtests it once on its test articles.
2. `shared`: one model fitted on the pooled training rows of every wiki given (`train_shared`),
   evaluated on each wiki's test articles with that wiki's own dictionary.
3. `leave-one-out`: for each wiki W, a model fitted on the pooled rows of the other wikis only,
   evaluated on W — what a wiki never seen in training gets.

Each cell reports precision and recall at one threshold (0.5, Wikimedia's) in both backtest units:
mwaddlink's sentence protocol (the release gate's unit) and the page-level one, plus the share of
gold pairs the dictionary can produce at all (``reachable``: no model can find the others). The
test articles are touched only by these backtests; nothing here chooses a parameter.

The models directory must be new or empty of shared models with these names: shared models are never
rewritten (shared.py), so a second run needs a fresh ``--models``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from scoring.backtest import backtest
from scoring.bundle import BacktestTable, load_bundle
from scoring.dumps import read_siteinfo
from scoring.shared import train_shared, with_shared_model
from scoring.train import train
from scoring.tune import MAX_ROUNDS
from stream.errors import AddlinkError

__all__ = ["ModelCell", "add_arguments", "bench_models", "main"]

POOLED = "pooled"
GATE_PRECISION, GATE_RECALL = 0.75, 0.20


@dataclass(frozen=True)
class ModelCell:
    """One (wiki, model) pair in one backtest unit at the table's threshold."""

    wiki: str
    model: str  # own | shared | leave-one-out
    protocol: str
    precision: float
    recall: float
    predicted: int
    gold: int
    reachable: float | None  # share of gold pairs the dictionary can produce

    @property
    def passes(self) -> bool:
        return self.precision >= GATE_PRECISION and self.recall >= GATE_RECALL


def _cells(wiki: str, model: str, tables: Sequence[BacktestTable], threshold: float) -> list[ModelCell]:
    cells = []
    for table in tables:
        row = table.at(threshold)
        reachable = None if table.reachable is None or not row.gold else round(table.reachable / row.gold, 3)
        cells.append(ModelCell(wiki, model, table.protocol, row.precision, row.recall, row.predicted, row.gold, reachable))
    return cells


def _leave_out_name(wiki: str) -> str:
    return f"without-{wiki}"


def bench_models(
    dumps: Sequence[Path],
    models_dir: Path,
    *,
    threshold: float = 0.5,
    max_rounds: int = MAX_ROUNDS,
    n_jobs: int = 2,
    log: Callable[[str], None] = print,
) -> list[ModelCell]:
    """Train and evaluate every model of the table; returns its cells in (wiki, model, unit) order."""
    wikis: dict[str, Path] = {}
    for dump in dumps:
        site = read_siteinfo(dump)
        if not site.dbname:
            raise AddlinkError(f"{dump}: its siteinfo names no dbname, so its wiki id is unknown")
        wikis[site.dbname] = dump
    if len(wikis) < 2:
        raise AddlinkError("a shared model needs at least two wikis' dumps")
    cells: list[ModelCell] = []
    for wiki, dump in wikis.items():
        started = time.monotonic()
        report = train(dump, models_dir, wiki=wiki, force=True, progress=False, max_rounds=max_rounds, n_jobs=n_jobs)
        tables = (report.manifest.backtest_mwaddlink, report.manifest.backtest)
        if None in tables:
            raise AddlinkError(f"{wiki}: training wrote no backtest (no test articles with gold?)")
        cells += _cells(wiki, "own", tables, threshold)
        log(f"{wiki}: own model trained and backtested in {time.monotonic() - started:.0f} s")
    names = {POOLED: list(wikis)} | {_leave_out_name(w): [o for o in wikis if o != w] for w in wikis}
    for name, members in names.items():
        started = time.monotonic()
        train_shared(models_dir, name, members, max_rounds=max_rounds, n_jobs=n_jobs)
        log(f"shared model {name} fitted on {len(members)} wikis in {time.monotonic() - started:.0f} s")
    for wiki, dump in wikis.items():
        for model, name in (("shared", POOLED), ("leave-one-out", _leave_out_name(wiki))):
            started = time.monotonic()
            tested = backtest(dump, with_shared_model(load_bundle(models_dir, wiki), models_dir, name))
            cells += _cells(wiki, model, (tested.sentences, tested.table), threshold)
            log(f"{wiki}: {model} model ({name}) backtested in {time.monotonic() - started:.0f} s")
    return cells


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def render(cells: Sequence[ModelCell], threshold: float) -> str:
    """A markdown table, one line per (wiki, model): both units side by side."""
    lines = [
        f"P and R at {threshold}; gate (mwaddlink protocol): P >= {GATE_PRECISION}, R >= {GATE_RECALL}",
        "| wiki | model | mwaddlink P | mwaddlink R | gate | page-level P | page-level R | reachable (mwaddlink / page) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    by_key = {(c.wiki, c.model, c.protocol): c for c in cells}
    for wiki, model in dict.fromkeys((c.wiki, c.model) for c in cells):
        sentence, page = by_key[(wiki, model, "mwaddlink-sentence")], by_key[(wiki, model, "page-level")]
        lines.append(
            f"| {wiki} | {model} | {sentence.precision:.2f} | {sentence.recall:.2f} | "
            f"{'pass' if sentence.passes else 'FAIL'} | {page.precision:.2f} | {page.recall:.2f} | "
            f"{_share(sentence.reachable)} / {_share(page.reachable)} |"
        )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dump", required=True, type=Path, action="append", help="a wiki's dump (repeat, two or more)")
    parser.add_argument("--models", required=True, type=Path, help="a new directory for the bundles and shared models")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--json", action="store_true", help="print the cells as JSON")


def main(args: argparse.Namespace) -> int:
    for dump in args.dump:
        if not dump.is_file():
            raise AddlinkError(f"no dump at {dump}")
    quiet = args.json
    cells = bench_models(args.dump, args.models, threshold=args.threshold, log=(lambda _: None) if quiet else print)
    if args.json:
        print(json.dumps([asdict(c) | {"passes": c.passes} for c in cells]))
    else:
        print(render(cells, args.threshold))
    return 0
