"""`addlink replay`: a bounded run of the same pipeline over a stretch of the source topics.

1. For each source topic partition, the start offset is the first record at or after `--from`
   (`earliest`: the oldest retained) and the end offset the first record at or after `--until`
   (`end`: the end of the partition when replay starts). Times are Kafka record timestamps, as in
   Wikimedia's bounded backfills, found with ``offsets_for_times``.
2. Ingest reads exactly that range (its own consumer group, ``<ingest_group_id>.replay``, so a
   running `addlink run` keeps its position) and forwards work items to the work topic.
3. A worker joins the work topic's consumer group (sharing it with any running `addlink run`) and
   replay finishes once the group has committed every work item up to the end of the work topic
   as it was when ingest finished.

The quiet period is the configured one unless `--quiet-period SECONDS` overrides it for every
wiki (the README demo uses 0). Items not yet due are waited for, so replaying the last day with
the default quiet period lasts until those revisions are a day old. Progress bars show what is
left of the source range and of the work topic; the summary counts outcomes by GrowthExperiments'
names. Exit status 0 when done, 1 if a loop failed, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from stream.pipeline.bootstrap import Observability, build_ingest, build_state, build_worker
from stream.cli.run import add_create_indices_flag, install_signal_handlers, prepare, run_stages
from stream.config import Settings, load_settings
from stream.pipeline.consume_loop import ConsumeLoop
from stream.errors import AddlinkError
from stream.transport.kafka_io import Consumer
from stream.observe.logs import configure_json_logging
from stream.observe.metrics import OutcomeTally
from stream.core.quiet import TopicPartition

log = logging.getLogger(__name__)


def parse_bound(text: str, open_word: str) -> datetime | None:
    """``open_word`` (earliest / end) -> None; else an ISO 8601 time (UTC if no zone given)."""
    if text == open_word:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise AddlinkError(f"not {open_word!r} nor an ISO 8601 time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def source_range(
    consumer: Consumer, topics: Iterable[str], since: datetime | None, until: datetime | None
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    """Start and end offsets per partition of the existing ``topics`` (see module doc)."""
    start: dict[TopicPartition, int] = {}
    end: dict[TopicPartition, int] = {}
    for topic in topics:
        partitions = consumer.partitions(topic)
        if not partitions:
            log.warning("source topic does not exist; skipped", extra={"topic": topic})
            continue
        for partition in partitions:
            tp = (topic, partition)
            low, high = consumer.watermarks(tp)
            first = low if since is None else _offset_at(consumer, tp, since, high)
            last = high if until is None else _offset_at(consumer, tp, until, high)
            start[tp], end[tp] = first, max(first, last)
    if not start:
        raise AddlinkError(f"none of the source topics exists: {', '.join(topics)}")
    return start, end


def _offset_at(consumer: Consumer, tp: TopicPartition, moment: datetime, high: int) -> int:
    found = consumer.offsets_for_times({tp: int(moment.timestamp() * 1000)}).get(tp)
    return high if found is None else found


@dataclass
class WorkDrained:
    """The worker loop's stop condition: ingest is done and the group committed the work topic to
    its end (as of ingest's end). Runs on the worker's thread; checks at most every ``interval_s``."""

    loop: ConsumeLoop
    topic: str
    ingest_done: threading.Event
    interval_s: float = 0.5
    targets: dict[TopicPartition, int] | None = None
    remaining: int | None = None
    _next_check: float = field(default=0.0)

    def __call__(self) -> bool:
        now = time.monotonic()
        if not self.ingest_done.is_set() or now < self._next_check:
            return False
        self._next_check = now + self.interval_s
        consumer = self.loop.consumer
        if self.targets is None:
            self.targets = {(self.topic, p): consumer.watermarks((self.topic, p))[1]
                            for p in consumer.partitions(self.topic)}
        committed = consumer.committed(list(self.targets))
        remaining = 0
        for tp, target in self.targets.items():
            done = committed.get(tp)
            if done is None:
                done = consumer.watermarks(tp)[0]
            remaining += max(0, target - done)
        self.remaining = remaining
        return remaining == 0


def replay(
    settings: Settings,
    *,
    since: datetime | None,
    until: datetime | None,
    quiet_period_s: int | None = None,
    progress: bool = True,
    stop: threading.Event | None = None,
    create_indices: bool = False,
) -> tuple[int, dict[str, dict[str, int]]]:
    """Run the bounded replay; returns (exit status, outcome summary)."""
    stop = stop or threading.Event()
    prepare(settings, create_indices=create_indices)
    tally = OutcomeTally()
    obs = Observability(extra_sensors=[tally])
    state = build_state(settings)
    ingest = build_ingest(settings, obs, stop, state=state,
                          group_id=f"{settings.kafka.ingest_group_id}.replay")
    start, end = source_range(ingest.loop.consumer, settings.kafka.source_topics, since, until)
    ingest.loop.assign(start, end)
    worker = build_worker(settings, obs, stop, state=state, quiet_period_override_s=quiet_period_s)
    worker.loop.subscribe([settings.kafka.work_topic])
    drained = WorkDrained(worker.loop, settings.kafka.work_topic, ingest.finished)
    ingest.until = ingest.loop.finished_bounded
    worker.until = drained

    total = sum(end[tp] - start[tp] for tp in start)
    bars = _Progress(total, enabled=progress)
    watcher = threading.Thread(target=bars.follow, args=(ingest.loop, start, end, drained, stop), daemon=True)
    watcher.start()
    status = run_stages([ingest, worker], stop)
    bars.close()
    if status == 0 and not (ingest.finished.is_set() and worker.finished.is_set()):
        status = 130  # stopped by a signal before the end
    return status, tally.summary()


class _Progress:
    """Two tqdm bars on stderr: source events left to ingest, work items left to commit."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self._enabled = enabled
        self._source = tqdm(total=total, desc="replay source", unit="event", disable=not enabled, file=sys.stderr)
        self._work: tqdm | None = None
        self._done = threading.Event()

    def follow(self, ingest: ConsumeLoop, start: dict, end: dict, drained: WorkDrained, stop: threading.Event) -> None:
        while not self._done.wait(0.5):
            handled = sum(min(end[tp], ingest.position(tp) or start[tp]) - start[tp] for tp in start)
            self._source.update(max(0, handled - self._source.n))
            if drained.remaining is not None:
                if self._work is None:
                    self._work = tqdm(total=drained.remaining, desc="replay work  ", unit="item",
                                      disable=not self._enabled, file=sys.stderr)
                self._work.update(max(0, (self._work.total - drained.remaining) - self._work.n))

    def close(self) -> None:
        self._done.set()
        self._source.close()
        if self._work is not None:
            self._work.close()


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("replay", help="replay a time range of the source topics through the pipeline")
    parser.add_argument("--config", required=True, type=Path, help="configuration file (YAML or TOML)")
    parser.add_argument("--from", dest="since", required=True, metavar="earliest|TIME",
                        help="first record time (ISO 8601) or 'earliest'")
    parser.add_argument("--until", default="end", metavar="end|TIME",
                        help="stop before records from this time (ISO 8601); default 'end' (as of now)")
    parser.add_argument("--quiet-period", type=int, metavar="SECONDS",
                        help="override minimum_time_since_last_edit of every wiki (0: score at once)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--log-level", default="WARNING", help="log level (default: WARNING)")
    add_create_indices_flag(parser)
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    configure_json_logging(args.log_level)
    settings = load_settings(args.config)
    since, until = parse_bound(args.since, "earliest"), parse_bound(args.until, "end")
    if args.quiet_period is not None and args.quiet_period < 0:
        raise AddlinkError("--quiet-period must be >= 0")
    stop = threading.Event()
    install_signal_handlers(stop, settings.pipeline.shutdown_timeout_s)
    status, summary = replay(settings, since=since, until=until, quiet_period_s=args.quiet_period,
                             progress=not args.no_progress, stop=stop, create_indices=args.create_indices)
    if args.json:
        print(json.dumps({"status": status, **summary}, indent=2, sort_keys=True))
    else:
        for group, counts in summary.items():
            line = ", ".join(f"{name} {count}" for name, count in counts.items()) or "-"
            print(f"{group:14} {line}")
    return status
