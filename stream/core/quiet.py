"""Quiet period without sleeping: hold a partition until its next item is due.

A work item may be scored only once ``item.dt + minimum_time_since_last_edit`` has passed. The
consume loop never sleeps for that: it asks :class:`QuietSchedule` whether an item is ripe; if not,
it pauses the item's partition, remembers the item's offset and the monotonic time at which the item
becomes ripe, and keeps polling the other partitions (so the consumer stays in its group). Once the
time has come, :meth:`QuietSchedule.take_ripe` hands back ``(partition, offset)`` pairs to seek to and
resume — the same mechanics as quix-streams' backpressure, applied per partition.

Guarantees:
- Due times are *wall-clock* (event time is wall-clock); the resume time is converted once to the
  *monotonic* clock, so a wall-clock jump after pausing neither resumes early nor strands a partition.
- A partition is held at most once; holding it again (after a rebalance or a reseek) replaces the entry.
- :meth:`forget` drops holds of revoked partitions: the next owner starts from the committed offset.
- Nothing here talks to Kafka; the loop does the pause/seek/resume calls.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

TopicPartition = tuple[str, int]


class Clock(Protocol):
    """Two clocks: ``wall()`` (epoch seconds, for event times) and ``monotonic()`` (for deadlines)."""

    def wall(self) -> float: ...

    def monotonic(self) -> float: ...


class SystemClock:
    """The real clocks."""

    def wall(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


@dataclass(frozen=True)
class Hold:
    """A partition paused at ``offset`` until the monotonic time ``resume_at``."""

    offset: int
    resume_at: float


class QuietSchedule:
    """Which partitions are held, from which offset, until when."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._holds: dict[TopicPartition, Hold] = {}

    def seconds_until(self, due_wall: float) -> float:
        """Seconds until the wall-clock time ``due_wall`` (<= 0 means ripe now)."""
        return due_wall - self._clock.wall()

    def hold(self, tp: TopicPartition, offset: int, due_wall: float) -> Hold:
        """Hold ``tp`` at ``offset`` until ``due_wall``; returns the hold (its monotonic resume time)."""
        held = Hold(offset=offset, resume_at=self._clock.monotonic() + max(0.0, self.seconds_until(due_wall)))
        self._holds[tp] = held
        return held

    def is_held(self, tp: TopicPartition) -> bool:
        return tp in self._holds

    def held(self) -> dict[TopicPartition, Hold]:
        """A copy of the current holds."""
        return dict(self._holds)

    def take_ripe(self) -> list[tuple[TopicPartition, int]]:
        """Remove and return the holds whose time has come, as ``(partition, offset to seek to)``."""
        now = self._clock.monotonic()
        ripe = [(tp, held.offset) for tp, held in self._holds.items() if held.resume_at <= now]
        for tp, _ in ripe:
            del self._holds[tp]
        return ripe

    def next_wakeup(self) -> float | None:
        """Seconds until the earliest hold is ripe (>= 0), or None when nothing is held.

        The loop uses it to bound its poll timeout, like bytewax's ``next_awake``.
        """
        if not self._holds:
            return None
        earliest = min(held.resume_at for held in self._holds.values())
        return max(0.0, earliest - self._clock.monotonic())

    def forget(self, tps: set[TopicPartition] | list[TopicPartition]) -> None:
        """Drop the holds of partitions this consumer no longer owns."""
        for tp in tps:
            self._holds.pop(tp, None)
