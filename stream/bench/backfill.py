"""`addlink bench backfill`: articles per second of a whole-dump backfill, `addlink produce` then
`addlink replay`, with the stores checked against each other at the end.

Runs the project's own produce and replay (stream/ops/backfill.py, stream/ops/replay.py) against the
configured services, in a namespace created for the run and removed afterwards (topics, consumer groups,
Redis key prefix, a database and an index named after a run id, stream/bench/namespace.py): each run
starts from empty stores and never sees another's data. For the local stack: it creates and drops
databases, indices and topics.

1. produce: the latest revision of each article of the dumps, as `addlink produce` publishes them;
2. replay: from the earliest record to the end, quiet period 0, ``--workers`` worker stages, until the
   worker group committed the whole work topic;
3. check: Elasticsearch refreshed, then the rows holding a recommendation (gelr_data not NULL) and the
   documents tagged ``recommendation.link/exists`` counted; every scored page with links has both, so
   the two counts must be equal (exit status 1 otherwise).

Rates: articles over the replay's wall time, over produce + replay, and over the replay after its
start-up (the time to the first scored article: topics, group joins, model load), the steady rate a
larger backfill tends to.
"""

from __future__ import annotations

import argparse
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sinks.elasticsearch import WeightedTagSink
from stream.bench.report import environment, print_figures
from stream.bench.namespace import add_run_arguments, isolated_settings, remove_namespace
from stream.bench.train import rate
from stream.config import Settings, load_settings
from stream.errors import AddlinkError
from stream.observe.metrics import Sensor
from stream.ops.backfill import produce_dump
from stream.ops.replay import replay
from stream.pipeline.bootstrap import build_store, build_tag_sink
from stream.pipeline.runner import install_signal_handlers


class FirstScored(Sensor):
    """The monotonic time the first article was scored (None until then)."""

    def __init__(self) -> None:
        self.at: float | None = None

    def on_scored(self, wiki: str, seconds: float) -> None:
        if self.at is None:  # two workers racing here differ by microseconds: either time will do
            self.at = time.monotonic()


@dataclass(frozen=True)
class BackfillRun:
    """What one backfill measured: counts and seconds."""

    articles: int
    """events produced: the latest revision of each article of the dumps"""
    eligible: int
    """work items ingest forwarded to the workers"""
    rows: int
    tags: int
    produce_seconds: float
    replay_seconds: float
    startup_seconds: float | None
    """from the start of the replay to the first scored article; None when nothing was scored"""

    def figures(self) -> dict[str, Any]:
        """The counts, the check and the rates, rounded for printing."""
        steady = None if self.startup_seconds is None else self.replay_seconds - self.startup_seconds
        return {
            **{name: round(value, 2) if isinstance(value, float) else value for name, value in asdict(self).items()},
            "rows_equal_tags": self.rows == self.tags,
            "articles_per_second_replay": rate(self.articles, self.replay_seconds),
            "articles_per_second_produce_and_replay": rate(self.articles, self.produce_seconds + self.replay_seconds),
            "articles_per_second_after_startup": None if steady is None else rate(self.articles, steady),
            "eligible_per_second_replay": rate(self.eligible, self.replay_seconds),
        }


def bench_backfill(settings: Settings, *, wiki_id: str, dumps: list[Path], workers: int = 1, progress: bool = True,
                   stop: threading.Event | None = None) -> dict[str, Any]:
    """Run the benchmark (see module doc) and return its figures."""
    if wiki_id not in settings.enabled_wikis():
        raise AddlinkError(f"wiki {wiki_id} is not configured and enabled")
    if settings.tags_mode != "elasticsearch":
        raise AddlinkError("bench backfill counts tags in Elasticsearch: it needs tags_mode elasticsearch")
    if workers < 1:
        raise AddlinkError("--workers must be >= 1")
    run_id = secrets.token_hex(4)
    bench = isolated_settings(settings, wiki_id, run_id)
    first = FirstScored()
    try:
        produced = produce_dump(bench, wiki_id=wiki_id, dumps=dumps, progress=progress)
        started = time.monotonic()
        status, summary = replay(bench, since=None, until=None, quiet_period_s=0, progress=progress, stop=stop,
                                 create_indices=True, workers=workers, sensors=[first])
        replay_seconds = time.monotonic() - started
        if status != 0:
            raise AddlinkError(f"the replay ended with status {status}")
        rows, tags = _count(bench, wiki_id)
    finally:
        remove_namespace(bench, wiki_id, "bench backfill")
    run = BackfillRun(articles=produced.events, eligible=sum(summary["work_items"].values()), rows=rows, tags=tags,
                      produce_seconds=produced.seconds, replay_seconds=replay_seconds,
                      startup_seconds=None if first.at is None else first.at - started)
    return {
        "benchmark": "backfill",
        "run_id": run_id,
        "wiki": wiki_id,
        "dumps": [dump.name for dump in dumps],
        "workers": workers,
        **run.figures(),
        "outcomes": summary["outcomes"],
        "environment": environment(settings),
    }


def _count(bench: Settings, wiki_id: str) -> tuple[int, int]:
    """(rows with a recommendation, documents with the link tag) once everything written is visible."""
    store = build_store(bench)
    tag_sink = build_tag_sink(bench, None)
    assert isinstance(tag_sink, WeightedTagSink)  # tags_mode elasticsearch, checked first
    try:
        return store.rows_with_data(wiki_id), tag_sink.count_tagged(wiki_id)
    finally:
        store.close()
        tag_sink.close()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)
    parser.add_argument("--dump", required=True, type=Path, action="append",
                        help="dump whose articles are backfilled (repeatable: each page's newest revision)")


def main(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    stop = threading.Event()
    install_signal_handlers(stop, settings.pipeline.shutdown_timeout_s)
    figures = bench_backfill(settings, wiki_id=args.wiki, dumps=args.dump, workers=args.workers,
                             progress=not args.no_progress, stop=stop)
    print_figures(figures, as_json=args.json, render=render)
    return 0 if figures["rows_equal_tags"] else 1


def render(figures: dict[str, Any]) -> str:
    return (
        f"backfill {figures['wiki']}: {figures['articles']} articles ({figures['eligible']} eligible) in "
        f"{figures['replay_seconds']} s of replay with {figures['workers']} worker(s), after "
        f"{figures['produce_seconds']} s of produce\n"
        f"  articles/s: replay {figures['articles_per_second_replay']}, produce + replay "
        f"{figures['articles_per_second_produce_and_replay']}, after start-up "
        f"{figures['articles_per_second_after_startup']} (start-up {figures['startup_seconds']} s)\n"
        f"  rows {figures['rows']}, tags {figures['tags']}: " + ("equal" if figures["rows_equal_tags"] else "NOT EQUAL")
    )
