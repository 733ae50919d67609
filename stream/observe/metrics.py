"""Sensors: named lifecycle hooks the pipeline calls; Prometheus is one implementation.

Processing code never touches a metric object. It calls hooks on a :class:`Sensor` (faust's
sensors pattern); :class:`PrometheusSensor` turns them into ``addlink_*`` metrics registered on a
registry passed in (tests pass a fresh ``CollectorRegistry``); :class:`OutcomeTally` keeps plain
counts for ``addlink replay``'s summary and the stream benchmark; :class:`SensorSet` fans out.

Label rules: ``wiki`` is an enabled wiki id or ``"other"``, ``outcome`` a GrowthExperiments outcome
name, ``error_type`` an exception class name; never page ids or titles. Durations are in seconds.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter as PromCounter, Gauge, Histogram

from stream.core.quiet import Clock

# The stages a role's time is split into (``Sensor.on_stage``), in the order an item meets them:
# poll (consume, including waiting for input), decode (parse and schema validation), validate
# (eligibility rules), redis, mariadb_read, quiet (quiet-period bookkeeping), scoring (hand-off to the
# scoring process and the wait for it), then the checkpoint: each sink's flush under the sink's name
# (mariadb, elasticsearch or tag_events), produce (producers' flush) and offsets (the offset commit).
STAGES = ("poll", "decode", "validate", "redis", "mariadb_read", "quiet", "scoring", "mariadb", "elasticsearch",
          "tag_events", "produce", "offsets")

# Due-to-acknowledged latency spans milliseconds (quiet period 0) to minutes (sink outage).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class Sensor:
    """No-op hooks; subclasses override what they record. Every hook must be cheap and never raise."""

    def on_event_in(self, topic: str, wiki: str) -> None: ...

    def on_event_dropped(self, reason: str) -> None: ...

    def on_invalidation(self, wiki: str, kind: str) -> None: ...

    def on_item_forwarded(self, wiki: str) -> None: ...

    def on_item_skipped(self, wiki: str, reason: str) -> None: ...

    def on_outcome(self, wiki: str, outcome: str, cause: str = "") -> None:
        """``cause``: why a scored page got nothing (``stream.core.eligibility.scored_cause``), or empty."""

    def on_scored(self, wiki: str, seconds: float) -> None: ...

    def on_error(self, stage: str, error_type: str) -> None: ...

    def on_sink_flush(self, sink: str, seconds: float, ok: bool) -> None: ...

    def on_sink_writes(self, sink: str, outcomes: Mapping[str, int]) -> None: ...

    def on_commit(self, role: str, seconds: float) -> None: ...

    def on_acknowledged(self, role: str, latencies: Sequence[float]) -> None: ...

    def on_lag(self, role: str, topic: str, partition: int, lag: int) -> None: ...

    def on_partitions_revoked(self, role: str, partitions: Sequence[tuple[str, int]]) -> None: ...

    def on_backpressure(self, role: str, active: bool) -> None: ...

    def on_partitions_held(self, role: str, count: int) -> None: ...

    def on_regeneration_checked(self, wiki: str, verdict: str) -> None:
        """A page the regeneration walk looked at: ``current``, ``outdated`` (queued) or ``no_text``."""

    def on_regenerated(self, wiki: str, outcome: str) -> None:
        """A rescore item evaluated (GrowthExperiments' outcome) or skipped (``superseded``)."""

    def on_regeneration_walk(self, wiki: str, walking: bool, cursor: int) -> None:
        """A wiki's walk started, went on to page ``cursor`` or ended (``walking`` False)."""

    def on_stage(self, role: str, stage: str, seconds: float) -> None:
        """Time one stage of a role took (``STAGES``); summed, it gives each stage's share of the run."""


class SensorSet(Sensor):
    """Calls every hook on each of several sensors, in order."""

    def __init__(self, sensors: Iterable[Sensor]) -> None:
        self.sensors = tuple(sensors)


def _fan_out(name: str):  # noqa: ANN202 - builds one SensorSet method per hook
    def hook(self: SensorSet, *args: object) -> None:
        for sensor in self.sensors:
            getattr(sensor, name)(*args)

    hook.__name__ = name
    return hook


for _hook in [name for name in vars(Sensor) if name.startswith("on_")]:
    setattr(SensorSet, _hook, _fan_out(_hook))


class PrometheusSensor(Sensor):
    """All ``addlink_*`` metrics, created against ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def counter(name: str, doc: str, labels: Sequence[str]) -> PromCounter:
            return PromCounter(name, doc, labels, registry=registry)

        self.events_in = counter("addlink_source_events_total", "Events read from source topics.", ["topic", "wiki"])
        self.dropped = counter("addlink_source_events_dropped_total", "Source events dropped before work.", ["reason"])
        self.invalidations = counter(
            "addlink_invalidations_total", "Pages invalidated at once (rows deleted, tag cleared).", ["wiki", "kind"]
        )
        self.forwarded = counter("addlink_work_items_total", "Work items forwarded to the work topic.", ["wiki"])
        self.skipped = counter("addlink_work_items_skipped_total", "Work items skipped as superseded.", ["wiki", "reason"])
        self.outcomes = counter(
            "addlink_outcomes_total", "Work items by GrowthExperiments outcome name.", ["wiki", "outcome"]
        )
        self.causes = counter(
            "addlink_outcome_causes_total", "Scored pages without a recommendation, by outcome and finer cause "
            "(no_anchor_in_text, no_link_above_threshold, red_links, rejected_targets, ...).",
            ["wiki", "outcome", "cause"],
        )
        self.errors = counter("addlink_error_events_total", "Records sent to the error topic.", ["stage", "error_type"])
        self.sink_failures = counter("addlink_sink_flush_failures_total", "Sink flushes that failed.", ["sink"])
        self.sink_writes = counter(
            "addlink_sink_writes_total", "What successful flushes did, by the sink's outcome (created, updated, "
            "noop, stale, failed, replaced, rows_deleted, ...).", ["sink", "outcome"]
        )
        self.scoring = Histogram(
            "addlink_scoring_seconds", "Time to score one article.", ["wiki"], registry=registry, buckets=LATENCY_BUCKETS
        )
        self.sink_flush = Histogram(
            "addlink_sink_flush_seconds", "Time of one successful sink flush.", ["sink"], registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        self.commit = Histogram(
            "addlink_commit_seconds", "Time of one checkpoint commit (sinks, producers, offsets).", ["role"],
            registry=registry, buckets=LATENCY_BUCKETS,
        )
        self.latency = Histogram(
            "addlink_item_latency_seconds", "From an item being due to every sink acknowledging it.", ["role"],
            registry=registry, buckets=LATENCY_BUCKETS,
        )
        self.lag = Gauge(
            "addlink_consumer_lag", "Messages not handled yet, per assigned partition: from the consumer's position "
            "(else the group's committed offset) to the end of the partition.",
            ["role", "topic", "partition"], registry=registry,
        )
        self.backpressure = Gauge(
            "addlink_backpressure", "1 while consumption is paused because a sink or service is down.", ["role"],
            registry=registry,
        )
        self.stages = counter("addlink_stage_seconds_total", "Seconds each role spent in each stage (poll, "
                              "decode, validate, redis, mariadb_read, quiet, scoring, mariadb, elasticsearch, "
                              "produce, offsets).", ["role", "stage"])
        self.held = Gauge(
            "addlink_partitions_held", "Partitions paused until their next item's quiet period ends.", ["role"],
            registry=registry,
        )
        self.regeneration_pages = counter(
            "addlink_regeneration_pages_total", "Pages the regeneration walk checked: current, outdated (queued for "
            "evaluation) or no_text (made by an older model, text gone).", ["wiki", "verdict"]
        )
        self.regenerated = counter(
            "addlink_regeneration_outcomes_total", "Rescore items evaluated, by GrowthExperiments outcome name "
            "(superseded: a newer revision decides the page).", ["wiki", "outcome"]
        )
        self.regeneration_cursor = Gauge(
            "addlink_regeneration_cursor", "The page id this process's regeneration walk has reached.", ["wiki"],
            registry=registry,
        )
        self.regeneration_walking = Gauge(
            "addlink_regeneration_walking", "1 while this process walks the wiki's rows.", ["wiki"], registry=registry,
        )

    def on_event_in(self, topic: str, wiki: str) -> None:
        self.events_in.labels(topic, wiki).inc()

    def on_event_dropped(self, reason: str) -> None:
        self.dropped.labels(reason).inc()

    def on_invalidation(self, wiki: str, kind: str) -> None:
        self.invalidations.labels(wiki, kind).inc()

    def on_item_forwarded(self, wiki: str) -> None:
        self.forwarded.labels(wiki).inc()

    def on_item_skipped(self, wiki: str, reason: str) -> None:
        self.skipped.labels(wiki, reason).inc()

    def on_outcome(self, wiki: str, outcome: str, cause: str = "") -> None:
        self.outcomes.labels(wiki, outcome).inc()
        if cause:
            self.causes.labels(wiki, outcome, cause).inc()

    def on_scored(self, wiki: str, seconds: float) -> None:
        self.scoring.labels(wiki).observe(seconds)

    def on_error(self, stage: str, error_type: str) -> None:
        self.errors.labels(stage, error_type).inc()

    def on_sink_flush(self, sink: str, seconds: float, ok: bool) -> None:
        if ok:
            self.sink_flush.labels(sink).observe(seconds)
        else:
            self.sink_failures.labels(sink).inc()

    def on_sink_writes(self, sink: str, outcomes: Mapping[str, int]) -> None:
        for outcome, count in outcomes.items():
            if count:
                self.sink_writes.labels(sink, outcome).inc(count)

    def on_commit(self, role: str, seconds: float) -> None:
        self.commit.labels(role).observe(seconds)

    def on_acknowledged(self, role: str, latencies: Sequence[float]) -> None:
        histogram = self.latency.labels(role)
        for seconds in latencies:
            histogram.observe(seconds)

    def on_lag(self, role: str, topic: str, partition: int, lag: int) -> None:
        self.lag.labels(role, topic, str(partition)).set(lag)

    def on_partitions_revoked(self, role: str, partitions: Sequence[tuple[str, int]]) -> None:
        # A revoked partition's lag is reported by its new owner; a frozen value here would lie.
        for topic, partition in partitions:
            try:
                self.lag.remove(role, topic, str(partition))
            except KeyError:  # never reported here
                pass

    def on_backpressure(self, role: str, active: bool) -> None:
        self.backpressure.labels(role).set(1 if active else 0)

    def on_partitions_held(self, role: str, count: int) -> None:
        self.held.labels(role).set(count)

    def on_regeneration_checked(self, wiki: str, verdict: str) -> None:
        self.regeneration_pages.labels(wiki, verdict).inc()

    def on_regenerated(self, wiki: str, outcome: str) -> None:
        self.regenerated.labels(wiki, outcome).inc()

    def on_regeneration_walk(self, wiki: str, walking: bool, cursor: int) -> None:
        self.regeneration_walking.labels(wiki).set(1 if walking else 0)
        self.regeneration_cursor.labels(wiki).set(cursor)

    def on_stage(self, role: str, stage: str, seconds: float) -> None:
        self.stages.labels(role, stage).inc(seconds)


class OutcomeTally(Sensor):
    """Plain counts for summaries: outcomes, skips, drops, errors, and (``keep_latencies``, for a
    benchmark) the worker's latencies, one float per item: a replay of millions of pages keeps none.

    Thread-safe: ingest and worker threads report to the same tally.
    """

    def __init__(self, *, keep_latencies: bool = False) -> None:
        self._keep_latencies = keep_latencies
        self._lock = threading.Lock()
        self.counts: dict[str, Counter[str]] = {
            name: Counter() for name in ("events_in", "work_items", "outcomes", "causes", "skipped", "dropped",
                                         "invalidations", "errors")
        }
        self.latencies: list[float] = []
        self.held_partitions = 0

    def _count(self, group: str, key: str) -> None:
        with self._lock:
            self.counts[group][key] += 1

    def on_event_in(self, topic: str, wiki: str) -> None:
        self._count("events_in", wiki)

    def on_event_dropped(self, reason: str) -> None:
        self._count("dropped", reason)

    def on_invalidation(self, wiki: str, kind: str) -> None:
        self._count("invalidations", kind)

    def on_item_forwarded(self, wiki: str) -> None:
        self._count("work_items", wiki)

    def on_item_skipped(self, wiki: str, reason: str) -> None:
        self._count("skipped", reason)

    def on_outcome(self, wiki: str, outcome: str, cause: str = "") -> None:
        self._count("outcomes", outcome)
        if cause:
            self._count("causes", f"{outcome}:{cause}")

    def on_error(self, stage: str, error_type: str) -> None:
        self._count("errors", f"{stage}:{error_type}")

    def on_acknowledged(self, role: str, latencies: Sequence[float]) -> None:
        if role == "worker" and self._keep_latencies:
            with self._lock:
                self.latencies.extend(latencies)

    def on_partitions_held(self, role: str, count: int) -> None:
        if role == "worker":
            self.held_partitions = count

    def summary(self) -> dict[str, dict[str, int]]:
        """JSON-ready counts, keys sorted."""
        with self._lock:
            return {group: dict(sorted(counter.items())) for group, counter in self.counts.items()}


class StageTimer:
    """Times named stages of one role onto a sensor's ``on_stage`` (``with timer.stage("redis"): ...``)."""

    def __init__(self, sensor: Sensor, role: str, clock: Clock) -> None:
        self._sensor = sensor
        self._role = role
        self._clock = clock

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = self._clock.monotonic()
        try:
            yield
        finally:
            self._sensor.on_stage(self._role, name, self._clock.monotonic() - started)


class StageTimes(Sensor):
    """Seconds per (role, stage) summed from ``on_stage``; thread-safe (ingest and worker threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seconds: Counter[tuple[str, str]] = Counter()

    def on_stage(self, role: str, stage: str, seconds: float) -> None:
        with self._lock:
            self._seconds[(role, stage)] += seconds

    def snapshot(self) -> dict[tuple[str, str], float]:
        with self._lock:
            return dict(self._seconds)


def stage_shares(before: Mapping[tuple[str, str], float], after: Mapping[tuple[str, str], float],
                 elapsed: float, members: Mapping[str, int] | None = None) -> dict[str, dict[str, float]]:
    """Each role's share of ``elapsed`` wall seconds per stage, between two :meth:`StageTimes.snapshot`
    taken ``elapsed`` apart; ``other`` is the rest (handler logic, buffering, loop overhead). A role run by
    several threads (``members``, 1 by default) is given their mean."""
    if elapsed <= 0:
        raise ValueError("elapsed must be positive")
    shares: dict[str, dict[str, float]] = {}
    for (role, stage), seconds in sorted(after.items()):
        spent = seconds - before.get((role, stage), 0.0)
        if spent > 0:
            shares.setdefault(role, {})[stage] = spent / (elapsed * (members or {}).get(role, 1))
    for stages in shares.values():
        stages["other"] = max(0.0, 1.0 - sum(stages.values()))
    return shares
