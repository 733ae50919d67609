"""A bounded replay of the source topics through the same pipeline (`addlink replay`, see its CLI module
for the semantics): offsets from record times, ingest over exactly that range, a worker until the
work topic is drained, and a summary by GrowthExperiments' outcome names."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tqdm import tqdm

from stream.pipeline.bootstrap import Observability, build_ingest, build_state, build_worker
from stream.config import Settings
from stream.pipeline.consume_loop import ConsumeLoop, is_infrastructure_error
from stream.errors import AddlinkError
from stream.transport.kafka_io import Consumer, make_consumer, wait_for_stable_group
from stream.observe.metrics import OutcomeTally, Sensor
from stream.core.quiet import TopicPartition
from stream.pipeline.runner import prepare, run_stages

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
    """The workers' stop condition, one for all of them: ingest is done and the group committed the work
    topic to its end (as of ingest's end). Checks at most every ``interval_s``, from any worker's thread.

    It asks through ``probe``, a consumer with the worker group's id that never joins the group. Why: a
    member asking for its group's committed offsets on its own thread stops polling while it waits, and a
    rebalance (a second worker joining, or one leaving at the end) waits for that member in turn: backfills
    with two workers stalled in 10 s timeouts for about 30 s. The probe has no fetch in flight either, so
    the partitions' offsets, read once when ingest ends, come back at once."""

    probe: Consumer
    topic: str
    ingest_done: threading.Event
    interval_s: float = 0.5
    targets: dict[TopicPartition, int] | None = None
    remaining: int | None = None
    _next_check: float = field(default=0.0)
    _starts: dict[TopicPartition, int] = field(default_factory=dict)  # done when nothing was committed
    _done: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if self._done or not self.ingest_done.is_set() or now < self._next_check:
                return self._done
            self._next_check = now + self.interval_s
            try:
                self._done = self._drained()
            except Exception as error:
                # The group's offsets may be unreadable for a moment (its coordinator moving): ask again
                # at the next check rather than failing a replay that is only waiting for its end.
                if not is_infrastructure_error(error):
                    raise
                log.warning("cannot read the work topic's committed offsets yet", extra={"error": str(error)})
            return self._done

    def _drained(self) -> bool:
        if self.targets is None:
            marks = {(self.topic, p): self.probe.watermarks((self.topic, p)) for p in self.probe.partitions(self.topic)}
            self._starts = {tp: low for tp, (low, _) in marks.items()}
            self.targets = {tp: high for tp, (low, high) in marks.items() if high > low}  # empty ones are done
        committed = self.probe.committed(list(self.targets)) if self.targets else {}
        remaining = 0
        for tp, target in self.targets.items():
            done = committed.get(tp)
            remaining += max(0, target - (self._starts[tp] if done is None else done))
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
    workers: int = 1,
    sensors: Sequence[Sensor] = (),
) -> tuple[int, dict[str, dict[str, int]]]:
    """Run the bounded replay with ``workers`` worker stages (each with its own scoring process, all in
    the worker group); returns (exit status, outcome summary). ``sensors`` see the run too (a benchmark)."""
    stop = stop or threading.Event()
    prepare(settings, create_indices=create_indices)
    tally = OutcomeTally()
    obs = Observability(extra_sensors=[tally, *sensors])
    state = build_state(settings)
    ingest = build_ingest(settings, obs, stop, state=state,
                          group_id=f"{settings.kafka.ingest_group_id}.replay")
    start, end = source_range(ingest.loop.consumer, settings.kafka.source_topics, since, until)
    ingest.loop.assign(start, end)
    ingest.until = ingest.loop.finished_bounded
    probe = make_consumer(settings.kafka, settings.kafka.worker_group_id, client_id=f"{settings.emitter_id}.replay-probe")
    drained = WorkDrained(probe, settings.kafka.work_topic, ingest.finished)
    if workers > 1:  # see wait_for_stable_group: no member joins while another holds work
        ingest.before = lambda: wait_for_stable_group(settings.kafka, settings.kafka.worker_group_id, workers, stop=stop)
    stages = [ingest]
    for _ in range(workers):
        worker = build_worker(settings, obs, stop, state=state, quiet_period_override_s=quiet_period_s)
        worker.loop.subscribe([settings.kafka.work_topic])
        worker.until = drained
        stages.append(worker)

    total = sum(end[tp] - start[tp] for tp in start)
    bars = _Progress(total, enabled=progress)
    watcher = threading.Thread(target=bars.follow, args=(ingest.loop, start, end, drained, stop), daemon=True)
    watcher.start()
    try:
        status = run_stages(stages, stop)
    finally:
        probe.close()
    bars.close()
    if status == 0 and not all(stage.finished.is_set() for stage in stages):
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
