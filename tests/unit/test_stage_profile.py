"""Stage profile: the stages' own timings reach ``on_stage`` and become each role's share of the run."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from stream.observe.metrics import PrometheusSensor, SensorSet, StageTimes, stage_shares
from stream.transport.checkpoint import Checkpoint
from pipeline_fakes import FakeClock, RecordingCommitter

TP = ("work", 0)


class SlowFlushable:
    """A sink or producer whose flush takes ``seconds`` on the fake clock."""

    def __init__(self, clock: FakeClock, seconds: float) -> None:
        self.clock = clock
        self.seconds = seconds

    def flush(self) -> None:
        self.clock.advance(self.seconds)


class SlowCommitter(RecordingCommitter):
    def __init__(self, clock: FakeClock, seconds: float) -> None:
        super().__init__([])
        self.clock = clock
        self.seconds = seconds

    def commit(self, offsets) -> None:
        self.clock.advance(self.seconds)
        super().commit(offsets)


def test_a_commit_times_each_sink_the_producers_and_the_offset_commit() -> None:
    clock = FakeClock()
    times = StageTimes()
    registry = CollectorRegistry()
    checkpoint = Checkpoint(
        role="worker", committer=SlowCommitter(clock, 0.05),
        sinks=[("mariadb", SlowFlushable(clock, 0.4)), ("elasticsearch", SlowFlushable(clock, 0.3))],
        producers=[("work_topic", SlowFlushable(clock, 0.1)), ("error_events", SlowFlushable(clock, 0.02))],
        clock=clock, sensor=SensorSet([times, PrometheusSensor(registry)]), interval_seconds=2.0, max_pending=10,
    )
    before = times.snapshot()
    checkpoint.store_offset(TP, 3)
    checkpoint.commit()
    clock.advance(0.13)  # the rest of the role's time: not in any stage
    recorded = times.snapshot()
    assert recorded == pytest.approx({("worker", "mariadb"): 0.4, ("worker", "elasticsearch"): 0.3,
                                      ("worker", "produce"): 0.12, ("worker", "offsets"): 0.05})
    assert registry.get_sample_value("addlink_stage_seconds_total",
                                     {"role": "worker", "stage": "mariadb"}) == pytest.approx(0.4)
    shares = stage_shares(before, recorded, elapsed=1.0)
    assert shares == {"worker": pytest.approx({"mariadb": 0.4, "elasticsearch": 0.3, "produce": 0.12,
                                               "offsets": 0.05, "other": 0.13})}
    # The same seconds spent by two worker threads in one second of wall time: half of each one's time.
    halves = stage_shares(before, recorded, elapsed=1.0, members={"worker": 2})
    assert halves == {"worker": pytest.approx({"mariadb": 0.2, "elasticsearch": 0.15, "produce": 0.06,
                                               "offsets": 0.025, "other": 0.565})}


def test_a_failed_flush_still_counts_its_time() -> None:
    clock = FakeClock()
    times = StageTimes()

    class Down:
        def flush(self) -> None:
            clock.advance(0.7)
            raise ConnectionError("down")

    checkpoint = Checkpoint(role="ingest", committer=RecordingCommitter([]), sinks=[("mariadb", Down())],
                            producers=[], clock=clock, sensor=times, interval_seconds=2.0, max_pending=10)
    checkpoint.store_offset(TP, 1)
    with pytest.raises(ConnectionError):
        checkpoint.commit()
    assert times.snapshot() == pytest.approx({("ingest", "mariadb"): 0.7})


def test_shares_count_only_what_was_spent_between_the_snapshots_per_role() -> None:
    times = StageTimes()
    times.on_stage("worker", "scoring", 5.0)  # before the measured run
    before = times.snapshot()
    times.on_stage("worker", "scoring", 1.5)
    times.on_stage("worker", "scoring", 0.5)
    times.on_stage("worker", "redis", 0.25)
    times.on_stage("ingest", "decode", 0.5)
    shares = stage_shares(before, times.snapshot(), elapsed=4.0)
    assert shares == {"worker": {"scoring": 0.5, "redis": 0.0625, "other": 0.4375},
                      "ingest": {"decode": 0.125, "other": 0.875}}
    with pytest.raises(ValueError):
        stage_shares(before, before, elapsed=0)
