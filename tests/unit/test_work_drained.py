"""stream.ops.replay.WorkDrained: when a replay's worker may stop."""

from __future__ import annotations

import threading

import pytest

from stream.ops.replay import WorkDrained
from stream.transport.kafka_io import TransportError

TOPIC = "work"


class GroupOffsets:
    """A consumer whose group has committed ``committed`` of a two-partition topic ending at 5 and 3;
    ``failures`` calls to ``committed`` fail first, as during a rebalance."""

    def __init__(self, committed: dict, failures: int = 0) -> None:
        self._committed, self._failures = committed, failures
        self.watermark_reads = 0

    def partitions(self, topic: str) -> list[int]:
        return [0, 1, 2]

    def watermarks(self, tp: tuple[str, int]) -> tuple[int, int]:
        self.watermark_reads += 1
        return {0: (0, 5), 1: (0, 3), 2: (4, 4)}[tp[1]]  # partition 2: empty, nothing to commit

    def committed(self, tps: list) -> dict:
        if self._failures:
            self._failures -= 1
            raise TransportError("Failed to get committed offsets: Local: Timed out")
        return {tp: self._committed.get(tp) for tp in tps}


def drained(consumer: GroupOffsets, ingest_done: bool = True) -> WorkDrained:
    done = threading.Event()
    if ingest_done:
        done.set()
    return WorkDrained(consumer, TOPIC, done, interval_s=0.0)


def test_done_once_the_group_committed_the_end_of_every_partition() -> None:
    assert drained(GroupOffsets({(TOPIC, 0): 5, (TOPIC, 1): 3}))()
    check = drained(GroupOffsets({(TOPIC, 0): 5}))
    assert not check() and check.remaining == 3
    assert not drained(GroupOffsets({(TOPIC, 0): 5, (TOPIC, 1): 3}), ingest_done=False)()


def test_the_partitions_offsets_are_read_once_not_at_every_check() -> None:
    offsets = GroupOffsets({(TOPIC, 1): 3})
    check = drained(offsets)
    assert not check() and not check() and check.remaining == 5, "partition 0 has nothing committed: all of it is left"
    offsets._committed[(TOPIC, 0)] = 5
    assert check()
    assert offsets.watermark_reads == 3, "one read per partition, at the first check"


def test_unreadable_offsets_mean_not_yet_and_the_next_check_asks_again() -> None:
    check = drained(GroupOffsets({(TOPIC, 0): 5, (TOPIC, 1): 3}, failures=2))
    assert not check() and not check()
    assert check()


def test_a_failure_that_is_not_the_services_still_stops_the_replay() -> None:
    class Broken(GroupOffsets):
        def committed(self, tps: list) -> dict:
            raise KeyError("a bug")

    with pytest.raises(KeyError):
        drained(Broken({}))()


def test_once_drained_every_later_call_answers_without_asking() -> None:
    offsets = GroupOffsets({(TOPIC, 0): 5, (TOPIC, 1): 3})
    check = drained(offsets)
    assert check()
    offsets.committed = None  # asking now would raise TypeError
    assert check() and check(), "the other workers stop too, asking nothing of the group"
