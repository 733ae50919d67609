"""Checkpoint: commit order, offset + 1, retry after a failed flush, due-ness, latencies."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from stream.transport.checkpoint import Checkpoint, CommitFailed
from stream.observe.metrics import OutcomeTally, PrometheusSensor, SensorSet
from pipeline_fakes import FakeClock, RecordingCommitter, RecordingFlushable

TP0 = ("src", 0)
TP1 = ("src", 1)


def make_checkpoint(log: list[str], *, mariadb_failures: int = 0, es_failures: int = 0, commit_failures: int = 0,
                    clock: FakeClock | None = None, sensor=None):
    clock = clock or FakeClock()
    committer = RecordingCommitter(log, failures=commit_failures)
    checkpoint = Checkpoint(
        role="worker",
        committer=committer,
        sinks=[("mariadb", RecordingFlushable("mariadb", log, mariadb_failures)),
               ("elasticsearch", RecordingFlushable("elasticsearch", log, es_failures))],
        producers=[("producer", RecordingFlushable("producer", log))],
        clock=clock,
        sensor=sensor or OutcomeTally(),
        interval_seconds=5.0,
        max_pending=3,
    )
    return checkpoint, committer, clock


def test_commit_flushes_sinks_in_order_then_producers_then_commits_next_offsets() -> None:
    log: list[str] = []
    checkpoint, committer, _ = make_checkpoint(log)
    checkpoint.store_offset(TP0, 10)
    checkpoint.store_offset(TP0, 11)
    checkpoint.store_offset(TP1, 4)
    assert checkpoint.commit() == {TP0: 12, TP1: 5}
    assert log == ["mariadb", "elasticsearch", "producer", "commit"]
    assert committer.commits == [{TP0: 12, TP1: 5}]
    assert checkpoint.pending == 0


def test_offsets_must_increase_within_a_partition() -> None:
    checkpoint, _, _ = make_checkpoint([])
    checkpoint.store_offset(TP0, 10)
    with pytest.raises(ValueError, match="does not follow"):
        checkpoint.store_offset(TP0, 10)
    with pytest.raises(ValueError):
        checkpoint.store_offset(TP0, 9)
    checkpoint.store_offset(TP1, 1)  # other partitions are independent


def test_a_failed_sink_flush_moves_no_offset_and_the_same_commit_can_be_retried() -> None:
    log: list[str] = []
    checkpoint, committer, _ = make_checkpoint(log, es_failures=1)
    checkpoint.store_offset(TP0, 10)
    with pytest.raises(ConnectionError):
        checkpoint.commit()
    assert committer.commits == []
    assert log == ["mariadb", "elasticsearch:failed"], "producers and offsets wait for every sink"
    assert checkpoint.pending == 1

    assert checkpoint.commit() == {TP0: 11}
    assert log[2:] == ["mariadb", "elasticsearch", "producer", "commit"]


def test_a_failed_offset_commit_keeps_the_offsets_for_the_next_attempt() -> None:
    log: list[str] = []
    checkpoint, committer, _ = make_checkpoint(log, commit_failures=1)
    checkpoint.store_offset(TP0, 3)
    with pytest.raises(CommitFailed):
        checkpoint.commit()
    assert checkpoint.pending == 1
    checkpoint.store_offset(TP0, 4)
    assert checkpoint.commit() == {TP0: 5}


def test_is_due_by_count_or_by_time_and_never_when_empty() -> None:
    checkpoint, _, clock = make_checkpoint([])
    clock.advance(100)
    assert not checkpoint.is_due(), "nothing to commit"
    checkpoint.store_offset(TP0, 1)
    assert not checkpoint.is_due(), "interval counts from the first stored offset"
    clock.advance(4.9)
    assert not checkpoint.is_due()
    clock.advance(0.1)
    assert checkpoint.is_due()
    checkpoint.commit()

    checkpoint.store_offset(TP0, 2)
    checkpoint.store_offset(TP0, 3)
    assert not checkpoint.is_due()
    checkpoint.store_offset(TP1, 1)
    assert checkpoint.is_due(), "max_pending=3 reached"


def test_once_drained_it_is_due_after_the_short_interval_and_under_a_backlog_after_the_long_one() -> None:
    clock = FakeClock()
    checkpoint = Checkpoint(role="worker", committer=RecordingCommitter([]), sinks=[], producers=[], clock=clock,
                            sensor=OutcomeTally(), interval_seconds=2.0, max_pending=100, drained_seconds=0.1)
    checkpoint.store_offset(TP0, 1)
    assert checkpoint.seconds_until_due(drained=True) == pytest.approx(0.1)
    clock.advance(0.1)
    assert checkpoint.is_due(drained=True), "caught up: nothing more would join this commit"
    assert not checkpoint.is_due(drained=False), "a backlog: keep filling the commit"
    assert checkpoint.seconds_until_due() == pytest.approx(1.9)
    clock.advance(1.9)
    assert checkpoint.is_due()


def test_forget_drops_revoked_partitions_from_the_next_commit() -> None:
    checkpoint, committer, _ = make_checkpoint([])
    checkpoint.store_offset(TP0, 1)
    checkpoint.store_offset(TP1, 1)
    checkpoint.forget([TP0])
    assert checkpoint.pending == 1
    assert checkpoint.commit() == {TP1: 2}


def test_due_to_acknowledged_latency_and_flush_metrics_are_reported() -> None:
    registry = CollectorRegistry()
    tally = OutcomeTally(keep_latencies=True)
    clock = FakeClock(wall=1_000.0)
    checkpoint, _, _ = make_checkpoint([], clock=clock, sensor=SensorSet([tally, PrometheusSensor(registry)]))
    checkpoint.store_offset(TP0, 1, due_wall=998.0)
    checkpoint.store_offset(TP0, 2, due_wall=999.5)
    checkpoint.store_offset(TP0, 3)  # e.g. an item skipped without a due time: no latency
    checkpoint.commit()
    assert sorted(tally.latencies) == [0.5, 2.0]
    summary_only = OutcomeTally()  # a replay's: counts, and no float kept per item
    summary_only.on_acknowledged("worker", [0.5, 2.0])
    assert summary_only.latencies == []
    assert registry.get_sample_value("addlink_item_latency_seconds_count", {"role": "worker"}) == 2
    assert registry.get_sample_value("addlink_sink_flush_seconds_count", {"sink": "mariadb"}) == 1
    assert registry.get_sample_value("addlink_commit_seconds_count", {"role": "worker"}) == 1


def test_a_failed_flush_is_counted_per_sink() -> None:
    registry = CollectorRegistry()
    checkpoint, _, _ = make_checkpoint([], mariadb_failures=1, sensor=PrometheusSensor(registry))
    checkpoint.store_offset(TP0, 1)
    with pytest.raises(ConnectionError):
        checkpoint.commit()
    assert registry.get_sample_value("addlink_sink_flush_failures_total", {"sink": "mariadb"}) == 1
    assert registry.get_sample_value("addlink_sink_flush_failures_total", {"sink": "elasticsearch"}) is None


def test_what_each_sink_did_is_counted_by_outcome() -> None:
    """addlink_sink_writes_total: e.g. tags dropped as stale show up, and zero counts add no series."""
    registry = CollectorRegistry()
    log: list[str] = []
    checkpoint = Checkpoint(
        role="worker", committer=RecordingCommitter(log),
        sinks=[("elasticsearch", RecordingFlushable("elasticsearch", log, outcomes={"created": 3, "stale": 1, "noop": 0}))],
        producers=[("producer", RecordingFlushable("producer", log))],
        clock=FakeClock(), sensor=PrometheusSensor(registry), interval_seconds=5.0, max_pending=3)
    for _ in range(2):
        checkpoint.store_offset(TP0, len(log))
        checkpoint.commit()
    assert registry.get_sample_value("addlink_sink_writes_total", {"sink": "elasticsearch", "outcome": "created"}) == 6
    assert registry.get_sample_value("addlink_sink_writes_total", {"sink": "elasticsearch", "outcome": "stale"}) == 2
    assert registry.get_sample_value("addlink_sink_writes_total", {"sink": "elasticsearch", "outcome": "noop"}) is None
