"""`addlink bench stream`: events per second and due-to-acknowledged latency of the whole pipeline.

Runs the real stages (ingest and worker threads, as `addlink run` does) against the configured
Kafka, Redis, MariaDB and Elasticsearch, in an isolated namespace created for the run and removed
afterwards (topics, consumer groups, Redis key prefix, a database and an index of their own), with
the quiet period set to 0. Input: real articles of a dump (``--dump``), published as
page_content_change events; article k of the run gets page id ``k + 1`` so that every event is a
distinct page that must be scored and written.

Measurements, after a warm-up batch (group joins, model load) outside the timed region:
1. throughput: ``--events`` events published at once; events/s = events / (time the last work
   item was acknowledged by both sinks - time publishing started);
2. latency: events published at ``--latency-rate`` (default half the throughput) for
   ``--latency-seconds``; per item, the time from being due (its arrival on the work topic, the quiet
   period being 0) to the checkpoint that made its MariaDB row and Elasticsearch tag durable; p50
   and p99; and the resident memory of this process and of the scoring process at its start and
   end (a long paced run is the soak test: events are built as they are published, and the heap the
   throughput run freed is handed back before the start is read, see ``procfs.release_free_heap``).

CPU per event of the throughput run, from /proc: this process (ingest, worker, and the publisher,
whose events were built before the clock started), the scoring process, and the rest of the machine
(the four services). On a machine where the services run too, their sum times the rate is the
machine's cores: the figure that says which part a faster run must shrink.

``--workers N`` runs N worker stages (threads of this process, one consumer group, a scoring process
each), as N worker processes would share the work topic; the worker's stage shares are their mean.

Stage profile of the throughput run: each role's (ingest, worker) share of the run's wall time per
stage, from the stages' own timings (``Sensor.on_stage``, ``stream.observe.metrics.STAGES``); ``other``
is the rest of the role's time (its logic and buffering, or idling on the other role).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from scoring.dumps import is_article, iter_pages
from sinks.base import json_bytes
from stream.pipeline.bootstrap import (
    Observability,
    build_ingest,
    build_state,
    build_worker,
    create_missing_indices,
    ensure_pipeline_topics,
)
from stream.bench import procfs
from stream.bench.report import environment, print_figures
from stream.bench.namespace import add_run_arguments, isolated_settings, remove_namespace
from stream.ops.backfill import dump_page_event, wiki_domain
from stream.pipeline.runner import run_stages
from stream.config import Settings, load_settings
from stream.errors import AddlinkError
from stream.core.events import encode_key
from stream.transport.kafka_io import ensure_topics, make_producer, wait_for_stable_group
from stream.observe.metrics import OutcomeTally, StageTimes, stage_shares

WARMUP_EVENTS = 20


def _articles(dump: Path) -> list[Any]:
    articles = [page for page in iter_pages(dump) if is_article(page)]
    if not articles:
        raise AddlinkError(f"{dump}: no articles")
    return articles


def _events(settings: Settings, wiki_id: str, articles: list[Any], count: int,
            first_page: int) -> Iterator[tuple[bytes, bytes]]:
    """``count`` page_content_change messages, built as they are consumed (a long paced run would
    otherwise hold every event's wikitext at once and the process's memory would say nothing)."""
    domain = wiki_domain(wiki_id, settings.wikis[wiki_id].language)
    for k in range(count):
        event = dump_page_event(articles[k % len(articles)], wiki_id=wiki_id, domain=domain)
        page_id = first_page + k
        event["page"]["page_id"] = page_id
        event["revision"]["rev_id"] = page_id  # distinct revisions, old rev_dt: due at once
        yield encode_key(wiki_id, page_id), json_bytes(event)


FLUSH_EVERY = 1000
"""Events published between two flushes: the client keeps every message until its delivery is reported,
so a long run that never flushed would fill its queue (1 GB, about 37,000 articles) and fail."""


def _publish(producer: Any, topic: str, messages: Iterable[tuple[bytes, bytes]], rate: float | None = None) -> None:
    started = time.monotonic()
    for n, (key, value) in enumerate(messages):
        if rate is not None:
            wait = started + n / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        producer.produce(topic, value=value, key=key)
        if (n + 1) % FLUSH_EVERY == 0:
            _flush(producer)
    _flush(producer)


def _flush(producer: Any) -> None:
    if producer.flush(60):
        raise AddlinkError("kafka did not acknowledge the benchmark events")


def _wait_acknowledged(tally: OutcomeTally, count: int, timeout: float, label: str, progress: bool) -> float:
    deadline = time.monotonic() + timeout
    with tqdm(total=count, desc=label, unit="item", disable=not progress, file=sys.stderr) as bar:
        while len(tally.latencies) < count:
            if time.monotonic() > deadline:
                raise AddlinkError(f"{label}: only {len(tally.latencies)} of {count} items acknowledged in {timeout}s")
            bar.update(len(tally.latencies) - bar.n)
            time.sleep(0.05)
        bar.update(count - bar.n)
    return time.monotonic()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class _Usage:
    """CPU seconds of this process (ingest, worker and the publisher), of its children (the scoring
    process) and of the whole machine (the services and anything else), from one instant to another."""

    def __init__(self) -> None:
        self.started = self._now()

    @staticmethod
    def _now() -> tuple[float, float, float]:
        me = os.getpid()
        children = sum(procfs.cpu_seconds(pid) for pid in procfs.child_pids(me))
        return procfs.cpu_seconds(me), children, procfs.machine_busy_seconds()

    def per_event_ms(self, events: int) -> dict[str, float]:
        """CPU milliseconds per event since the start; children that ended meanwhile (a scoring process
        killed at its deadline) are missed, so scoring's share is a lower bound when there were timeouts."""
        (me0, children0, machine0), (me1, children1, machine1) = self.started, self._now()
        own, scoring, machine = me1 - me0, children1 - children0, machine1 - machine0
        return {
            "pipeline_process": round(1000 * own / events, 2),
            "scoring_process": round(1000 * scoring / events, 2),
            "rest_of_machine": round(1000 * (machine - own - scoring) / events, 2),
            "machine": round(1000 * machine / events, 2),
        }


def _resident_mb() -> dict[str, float]:
    me = os.getpid()
    return {"pipeline_process": round(procfs.rss_mb(me), 1),
            "scoring_process": round(sum(procfs.rss_mb(pid) for pid in procfs.child_pids(me)), 1)}


def bench_stream(
    settings: Settings, *, wiki_id: str, dump: Path, events: int = 500, latency_seconds: float = 20.0,
    latency_rate: float | None = None, workers: int = 1, progress: bool = True,
) -> dict[str, Any]:
    """Run the benchmark (see module doc) and return its figures."""
    if wiki_id not in settings.enabled_wikis():
        raise AddlinkError(f"wiki {wiki_id} is not configured and enabled")
    run_id = secrets.token_hex(4)
    bench = isolated_settings(settings, wiki_id, run_id)
    ensure_topics(bench.kafka, {bench.kafka.source_topics[0]: 1})
    ensure_pipeline_topics(bench)
    create_missing_indices(bench)
    articles = _articles(dump)
    warmup = list(_events(bench, wiki_id, articles, WARMUP_EVENTS, 1))
    burst = list(_events(bench, wiki_id, articles, events, 1 + WARMUP_EVENTS))
    tally = OutcomeTally(keep_latencies=True)
    stages = StageTimes()
    obs = Observability(extra_sensors=[tally, stages])
    stop = threading.Event()
    state = build_state(bench)
    ingest = build_ingest(bench, obs, stop, state=state)
    ingest.loop.subscribe(list(bench.kafka.source_topics))
    stages_run = [ingest]
    for _ in range(workers):  # members of one consumer group, each with its own scoring process
        worker = build_worker(bench, obs, stop, state=state)
        worker.loop.subscribe([bench.kafka.work_topic])
        stages_run.append(worker)
    runner = threading.Thread(target=run_stages, args=(stages_run, stop), daemon=True)
    runner.start()
    producer = make_producer(bench.kafka, client_id="addlink-bench")
    topic = bench.kafka.source_topics[0]
    try:
        wait_for_stable_group(bench.kafka, bench.kafka.worker_group_id, workers, stop=stop)
        _publish(producer, topic, warmup)
        _wait_acknowledged(tally, WARMUP_EVENTS, 120, "warm-up", progress)
        tally.latencies.clear()

        before = stages.snapshot()
        usage = _Usage()
        started = time.monotonic()
        _publish(producer, topic, burst)
        finished = _wait_acknowledged(tally, events, 600, "throughput", progress)
        rate = events / (finished - started)
        shares = stage_shares(before, stages.snapshot(), finished - started, {"worker": workers})
        cpu = usage.per_event_ms(events)
        tally.latencies.clear()
        del burst
        procfs.release_free_heap()  # the burst's high-water mark would hide a leak of the paced run

        paced_rate = latency_rate or rate / 2
        paced_count = max(1, int(paced_rate * latency_seconds))
        resident_start = _resident_mb()
        paced = _events(bench, wiki_id, articles, paced_count, 1 + WARMUP_EVENTS + events)
        _publish(producer, topic, paced, rate=paced_rate)
        _wait_acknowledged(tally, paced_count, 600, "latency", progress)
        resident_end = _resident_mb()
        latencies = list(tally.latencies)
    finally:
        stop.set()
        runner.join(timeout=60)
        remove_namespace(bench, wiki_id, "bench stream")
    return {
        "benchmark": "stream",
        "wiki": wiki_id,
        "dump": dump.name,
        "events": events,
        "events_per_second": round(rate, 2),
        "workers": workers,
        "cpu_ms_per_event": cpu,
        "latency_rate_events_per_second": round(paced_rate, 2),
        "latency_seconds": latency_seconds,
        "commit_interval_s": settings.pipeline.commit_interval_s,
        "latency_items": len(latencies),
        "latency_p50_seconds": round(_percentile(latencies, 0.50), 4),
        "latency_p99_seconds": round(_percentile(latencies, 0.99), 4),
        "resident_mb_latency_run": {"start": resident_start, "end": resident_end},
        "stage_shares": {role: {stage: round(share, 4) for stage, share in by_stage.items()}
                         for role, by_stage in shares.items()},
        "outcomes": tally.summary()["outcomes"],
        "environment": environment(settings),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)
    parser.add_argument("--dump", required=True, type=Path, help="dump whose articles are the input")
    parser.add_argument("--events", type=int, default=500, help="events in the throughput burst (default 500)")
    parser.add_argument("--latency-seconds", type=float, default=20.0, help="length of the paced latency run")
    parser.add_argument("--latency-rate", type=float,
                        help="events/s of the paced latency run (default: half the measured throughput)")


def main(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    figures = bench_stream(settings, wiki_id=args.wiki, dump=args.dump, events=args.events,
                           latency_seconds=args.latency_seconds, latency_rate=args.latency_rate,
                           workers=args.workers, progress=not args.no_progress)
    print_figures(figures, as_json=args.json, render=render)
    return 0


def render(figures: dict[str, Any]) -> str:
    lines = [f"stream {figures['wiki']}: {figures['events_per_second']} events/s over {figures['events']} events; "
             f"due->acknowledged p50 {figures['latency_p50_seconds']}s p99 {figures['latency_p99_seconds']}s "
             f"at {figures['latency_rate_events_per_second']} events/s ({figures['latency_items']} items)"]
    for role, by_stage in figures["stage_shares"].items():
        ranked = sorted(by_stage.items(), key=lambda pair: -pair[1])
        lines.append(f"  {role} time: " + ", ".join(f"{stage} {share:.1%}" for stage, share in ranked))
    lines.append("  CPU ms per event (throughput run): "
                 + ", ".join(f"{who} {ms}" for who, ms in figures["cpu_ms_per_event"].items()))
    resident = figures["resident_mb_latency_run"]
    lines.append("  resident MB over the latency run: " + ", ".join(
        f"{who} {resident['start'][who]} -> {resident['end'][who]}" for who in resident["start"]))
    return "\n".join(lines)
