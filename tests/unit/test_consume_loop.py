"""The consume loop's mechanics on an in-memory consumer: order, quiet-period holds, backpressure,
per-message errors, rebalances, bounded replay and stopping. No sleeping: polls advance a fake clock."""

from __future__ import annotations

import threading

import pytest

from pipeline_fakes import FakeClock, FakeConsumer, RecordingErrors, RecordingFlushable
from sinks.base import TransientSinkError
from stream.transport.checkpoint import Checkpoint
from stream.pipeline.consume_loop import ConsumeLoop, Done, LoopOptions, NotYet
from stream.core.events import SourceMessage
from stream.observe.health import Health
from stream.observe.metrics import OutcomeTally

TOPIC = "addlink.work.v1"
P0, P1 = (TOPIC, 0), (TOPIC, 1)


def messages(partition: int, values: list[str]) -> list[SourceMessage]:
    return [SourceMessage(TOPIC, partition, offset, None, value.encode(), 0) for offset, value in enumerate(values)]


class ScriptedHandler:
    """``wait:<t>`` -> NotYet until wall time t; ``down:<n>`` raises a transient error n times;
    ``bug`` raises a plain exception; anything else is Done. Records what it handled."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.handled: list[tuple[int, int, str]] = []
        self.failures: dict[tuple[int, int], int] = {}
        self.events: list[str] = []  # prepare(offsets) and handle(offset), in call order

    def prepare(self, messages) -> None:
        self.events.append(f"prepare{[m.offset for m in messages]}")

    def handle(self, message: SourceMessage):
        self.events.append(f"handle({message.offset})")
        value = message.value.decode()
        key = (message.partition, message.offset)
        if value.startswith("wait:") and self.clock.wall() < float(value[5:]):
            return NotYet(float(value[5:]))
        if value.startswith("down:"):
            left = self.failures.setdefault(key, int(value[5:]))
            if left:
                self.failures[key] = left - 1
                raise TransientSinkError("mariadb is down")
        if value == "bug":
            raise RuntimeError("unexpected")
        self.handled.append((message.partition, message.offset, value))
        return Done(due_wall=self.clock.wall())


class Rig:
    def __init__(self, partitions: dict, *, sink_failures: int = 0, drained_seconds: float | None = None,
                 poll_batch: int = 10) -> None:
        self.clock = FakeClock()
        self.consumer = FakeConsumer(partitions)
        real_poll = self.consumer.poll

        def poll(max_messages: int, timeout: float):
            out = real_poll(max_messages, timeout)
            if not out:
                self.clock.advance(timeout)  # a real poll blocks for its timeout when idle
            return out

        self.consumer.poll = poll  # type: ignore[method-assign]
        self.handler = ScriptedHandler(self.clock)
        self.flush_log: list[str] = []
        self.sink = RecordingFlushable("mariadb", self.flush_log, sink_failures, TransientSinkError)
        self.tally = OutcomeTally()
        self.errors = RecordingErrors()
        self.health = Health(self.clock)
        self.stop = threading.Event()
        self.discarded = 0
        checkpoint = Checkpoint(role="worker", committer=self.consumer, sinks=[("mariadb", self.sink)], producers=[],
                                clock=self.clock, sensor=self.tally, interval_seconds=1.0, max_pending=100,
                                drained_seconds=drained_seconds)
        self.loop = ConsumeLoop(role="worker", consumer=self.consumer, handler=self.handler, checkpoint=checkpoint,
                                errors=self.errors, discard_buffers=self._discard, clock=self.clock,
                                sensor=self.tally, health=self.health, stop=self.stop,
                                options=LoopOptions(poll_batch=poll_batch, poll_timeout_s=1.0, backoff_initial_s=0.5,
                                                    backoff_max_s=4.0))

    def _discard(self) -> None:
        self.discarded += 1

    def rounds(self, n: int) -> None:
        for _ in range(n):
            self.loop.round()


def test_messages_are_handled_in_order_per_partition_and_committed() -> None:
    rig = Rig({P0: messages(0, ["a", "b", "c"]), P1: messages(1, ["x", "y"])})
    rig.loop.subscribe([TOPIC])
    rig.rounds(3)
    assert [v for p, _, v in rig.handler.handled if p == 0] == ["a", "b", "c"]
    assert [v for p, _, v in rig.handler.handled if p == 1] == ["x", "y"]
    assert rig.consumer.committed_offsets == {P0: 3, P1: 2}


def test_each_batch_is_prepared_before_it_is_handled_and_forgotten_after() -> None:
    rig = Rig({P0: messages(0, ["a", "b"])})
    rig.loop.subscribe([TOPIC])
    rig.rounds(2)
    assert rig.handler.events == ["prepare[0, 1]", "handle(0)", "handle(1)", "prepare[]"]


def test_a_failed_service_forgets_the_batch_reads_before_the_retry() -> None:
    rig = Rig({P0: messages(0, ["a", "down:1", "c"])})
    rig.loop.subscribe([TOPIC])
    rig.rounds(3)
    events = rig.handler.events
    first_retry = [n for n, event in enumerate(events) if event == "handle(1)"][1]
    assert events[:4] == ["prepare[0, 1, 2]", "handle(0)", "handle(1)", "prepare[]"]
    assert first_retry > 3 and "prepare[2]" in events[first_retry:]
    assert [v for _, _, v in rig.handler.handled] == ["a", "down:1", "c"]


@pytest.mark.parametrize(("poll_batch", "waited"), [(10, 0.1), (2, 1.0)])
def test_a_caught_up_loop_commits_after_the_drained_interval_a_busy_one_after_the_full_one(
        poll_batch: int, waited: float) -> None:
    rig = Rig({P0: messages(0, ["a", "b"])}, drained_seconds=0.1, poll_batch=poll_batch)
    rig.loop.subscribe([TOPIC])
    started = rig.clock.monotonic()
    while not rig.consumer.committed_offsets:
        rig.loop.round()
    assert rig.consumer.committed_offsets == {P0: 2}
    assert rig.clock.monotonic() - started == pytest.approx(waited)


def test_lag_takes_a_fetched_partitions_end_from_its_last_fetch_and_asks_the_broker_for_a_held_one() -> None:
    rig = Rig({P0: messages(0, ["a", f"wait:{FakeClock().wall() + 1000}", "c"]), P1: messages(1, ["x"])})
    rig.loop.subscribe([TOPIC])
    rig.rounds(2)
    rig.consumer.broker_asks.clear()
    rig.consumer.fetched_ends.clear()
    rig.clock.advance(LoopOptions().lag_interval_s)
    rig.loop.round()
    assert rig.consumer.broker_asks == [P0], "held: not fetched, so its last fetch says nothing new"
    assert rig.consumer.fetched_ends == [P1]


def test_a_not_due_item_holds_its_partition_only_and_resumes_at_its_offset() -> None:
    rig = Rig({P0: messages(0, ["a", f"wait:{FakeClock().wall() + 30}", "c"]), P1: messages(1, ["x", "y"])})
    rig.loop.subscribe([TOPIC])
    rig.rounds(3)
    assert [v for _, _, v in rig.handler.handled] == ["a", "x", "y"]
    assert P0 in rig.consumer.paused
    assert rig.consumer.committed_offsets[P0] == 1, "the held item is not committed"
    assert rig.tally.held_partitions == 1

    rig.rounds(40)  # each idle poll advances the clock by at most the time to the next wake-up
    values = [v for p, _, v in rig.handler.handled if p == 0]
    assert values == ["a", values[1], "c"] and values[1].startswith("wait:"), "resumed at the held offset, once"
    assert rig.consumer.committed_offsets[P0] == 3
    assert P0 not in rig.consumer.paused


def test_a_service_outage_pauses_everything_retries_and_loses_nothing() -> None:
    rig = Rig({P0: messages(0, ["a", "down:3", "c"]), P1: messages(1, ["x"])})
    rig.loop.subscribe([TOPIC])
    rig.rounds(3)
    assert [v for p, _, v in rig.handler.handled if p == 0] == ["a", "down:3", "c"]
    assert rig.handler.failures[(0, 1)] == 0, "retried until the service came back"
    assert rig.consumer.committed_offsets == {P0: 3, P1: 1}
    assert rig.consumer.paused == set()
    assert rig.health.report()["loops"]["worker"]["backpressure"] is False


def test_a_failing_sink_flush_is_retried_before_offsets_move() -> None:
    rig = Rig({P0: messages(0, ["a", "b"])}, sink_failures=2)
    rig.loop.subscribe([TOPIC])
    rig.rounds(2)
    rig.clock.advance(2)
    rig.rounds(1)
    assert rig.flush_log[:3] == ["mariadb:failed", "mariadb:failed", "mariadb"]
    assert rig.consumer.committed_offsets == {P0: 2}
    assert len(rig.handler.handled) == 2, "nothing handled twice, nothing skipped"


def test_a_message_that_breaks_the_handler_goes_to_the_error_topic_and_the_loop_goes_on() -> None:
    rig = Rig({P0: messages(0, ["a", "bug", "c"])})
    rig.loop.subscribe([TOPIC])
    rig.rounds(2)
    ((raw, error, source),) = rig.errors.reports
    assert raw == b"bug" and isinstance(error, RuntimeError) and source["offset"] == 1
    assert [v for _, _, v in rig.handler.handled] == ["a", "c"]
    assert rig.consumer.committed_offsets == {P0: 3}


def test_a_revocation_that_cannot_commit_discards_buffers_and_rehandles_from_the_committed_offset() -> None:
    rig = Rig({P0: messages(0, ["a", "b", "c"])})
    rig.loop.subscribe([TOPIC])
    rig.rounds(1)
    rig.sink.failures = 1  # the commit in the revoke callback fails
    rig.consumer.revoke_on_next_poll = True
    rig.rounds(2)
    assert rig.discarded == 1
    assert [v for _, _, v in rig.handler.handled] == ["a", "b", "c", "a", "b", "c"], "redelivered from offset 0"
    rig.clock.advance(2)
    rig.rounds(1)
    assert rig.consumer.committed_offsets == {P0: 3}


def test_a_member_left_without_partitions_rejoins_the_group_once_after_a_while() -> None:
    """Fault injection: after a broker restart a member lost the group and never joined again."""
    rig = Rig({P0: messages(0, ["a", "b"])})
    rig.loop.subscribe([TOPIC])
    rig.rounds(1)
    rig.consumer.revoke_on_next_poll = True
    rig.consumer.stay_orphaned = True
    rig.rounds(30)  # 30 idle polls of 1 s: under rejoin_after_s
    assert rig.consumer.rejoins == 0 and rig.consumer.assignment() == set()
    rig.rounds(40)
    assert rig.consumer.rejoins == 1 and rig.consumer.assignment() == {P0}
    rig.rounds(100)
    assert rig.consumer.rejoins == 1, "once per revocation"


def test_partitions_paused_by_backpressure_and_lost_meanwhile_flow_again_when_reassigned() -> None:
    """Fault injection: after a broker restart the partitions came back still paused, and nothing moved."""
    rig = Rig({P0: messages(0, ["a", "b", "c"])})
    rig.loop.subscribe([TOPIC])
    rig.rounds(1)
    rig.sink.failures = 3  # the next commit fails: backpressure pauses every partition
    rig.consumer.revoke_after_polls = 3  # the group is lost while it waits (polls between retries)
    rig.consumer.stay_orphaned = True  # and comes back only after the backpressure is over
    rig.clock.advance(2)
    rig.rounds(1)
    assert rig.consumer.assignment() == set() and rig.discarded == 1
    rig.consumer.stay_orphaned = False
    rig.consumer.log[P0].append(SourceMessage(TOPIC, 0, 3, None, b"d", 0))
    rig.rounds(3)
    assert [v for _, _, v in rig.handler.handled][-4:] == ["a", "b", "c", "d"], "redelivered, then the new one"


def test_a_bounded_assignment_stops_at_its_end_offsets() -> None:
    rig = Rig({P0: messages(0, ["a", "b", "c", "d"]), P1: messages(1, ["x"])})
    rig.loop.assign({P0: 1, P1: 0}, {P0: 3, P1: 0})
    assert rig.loop.run(until=rig.loop.finished_bounded) is True
    assert [v for _, _, v in rig.handler.handled] == ["b", "c"]
    assert rig.consumer.committed_offsets == {P0: 3}
    assert rig.consumer.closed


def test_stop_finishes_with_a_final_commit() -> None:
    rig = Rig({P0: messages(0, ["a", "b"])})
    rig.loop.subscribe([TOPIC])
    rig.rounds(1)
    assert rig.consumer.committed_offsets == {}, "interval not reached yet"
    rig.stop.set()
    assert rig.loop.run() is False
    assert rig.consumer.committed_offsets == {P0: 2}
    assert rig.health.report()["loops"]["worker"]["phase"] == "stopped"


@pytest.mark.parametrize("value", ["down:1000"])
def test_stopping_during_an_outage_exits_without_committing(value: str) -> None:
    rig = Rig({P0: messages(0, ["a", value])})
    rig.loop.subscribe([TOPIC])
    original = rig.consumer.poll

    def poll(max_messages: int, timeout: float):
        if rig.clock.monotonic() > 1_100:
            rig.stop.set()  # SIGTERM while the service stays down
        return original(max_messages, timeout)

    rig.consumer.poll = poll  # type: ignore[method-assign]
    assert rig.loop.run() is False
    assert rig.consumer.committed_offsets.get(P0, 0) <= 1, "the failed message is not committed"
