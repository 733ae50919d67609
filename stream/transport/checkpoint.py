"""Checkpoint: the only path by which consumer offsets move.

The consume loop calls :meth:`Checkpoint.store_offset` after a message's handler returned (its
writes are *buffered* in the sinks and producers at that point, not yet durable) and
:meth:`Checkpoint.commit` when :meth:`Checkpoint.is_due`. The at-least-once argument is the
order of the steps in :meth:`commit`: nothing is committed before everything it covers is durable.

Failure semantics:
- A sink or producer flush that raises aborts the commit *before* any offset moves; the stored
  offsets stay, so the loop may retry the same commit later (sinks keep their batch on failure and
  every write is idempotent, so a retry that re-applies part of a batch changes nothing).
- A failed offset commit (rebalance in progress, coordinator gone) raises :class:`CommitFailed`;
  everything was flushed, so at worst the messages are delivered again.
- The process dying at any point loses at most uncommitted offsets: they are redelivered.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from stream.observe.metrics import Sensor
from stream.core.quiet import Clock, TopicPartition

log = logging.getLogger(__name__)


class FlushReport(Protocol):
    """What a sink's flush did (``sinks.base.FlushResult``): counts by outcome."""

    @property
    def outcomes(self) -> Mapping[str, int]: ...


class Flushable(Protocol):
    """A sink or producer: ``flush()`` returns once everything added is durable, or raises;
    a sink returns what it did, a producer nothing."""

    def flush(self) -> FlushReport | None: ...


class OffsetCommitter(Protocol):
    """Commits *next* offsets (last handled + 1) synchronously; raises CommitFailed on any partition error."""

    def commit(self, offsets: Mapping[TopicPartition, int]) -> None: ...


class CommitFailed(Exception):
    """The broker refused an offset commit (per-partition error, rebalance, coordinator unavailable)."""


class Checkpoint:
    """Handled offsets since the last commit, and the ordered commit.

    ``sinks`` and ``producers`` are ``(name, flushable)`` pairs flushed in the given order: the
    composition root passes MariaDB before Elasticsearch, so a row is committed before its tag.
    """

    def __init__(
        self,
        *,
        role: str,
        committer: OffsetCommitter,
        sinks: Sequence[tuple[str, Flushable]],
        producers: Sequence[tuple[str, Flushable]],
        clock: Clock,
        sensor: Sensor,
        interval_seconds: float,
        max_pending: int,
        drained_seconds: float | None = None,
    ) -> None:
        """Due by size (``max_pending`` handled messages) or by time: ``interval_seconds`` after the
        first stored offset, or only ``drained_seconds`` after it once the consumer has read all there
        was (``drained=True``): nothing more would join the commit, so waiting only adds latency,
        while under a backlog the commits stay large."""
        self._role = role
        self._committer = committer
        self._sinks = tuple(sinks)
        self._producers = tuple(producers)
        self._clock = clock
        self._sensor = sensor
        self._interval = interval_seconds
        self._max_pending = max_pending
        self._drained_seconds = interval_seconds if drained_seconds is None else min(drained_seconds,
                                                                                     interval_seconds)
        self._offsets: dict[TopicPartition, int] = {}
        self._counts: dict[TopicPartition, int] = {}
        self._due_times: dict[TopicPartition, list[float]] = {}
        self._opened_at = clock.monotonic()

    def store_offset(self, tp: TopicPartition, offset: int, *, due_wall: float | None = None) -> None:
        """Record that the message at ``offset`` of ``tp`` is handled (its writes buffered).

        Offsets of one partition must strictly increase between commits; a repeat or a step back
        means the loop lost track of its position, so it raises ``ValueError`` instead of moving on.
        ``due_wall`` (wall-clock time the item became due) feeds the due-to-acknowledged latency.
        """
        stored = self._offsets.get(tp)
        if stored is not None and offset <= stored:
            raise ValueError(f"offset {offset} of {tp[0]}[{tp[1]}] does not follow stored offset {stored}")
        if not self._offsets:
            self._opened_at = self._clock.monotonic()
        self._offsets[tp] = offset
        self._counts[tp] = self._counts.get(tp, 0) + 1
        if due_wall is not None:
            self._due_times.setdefault(tp, []).append(due_wall)

    @property
    def pending(self) -> int:
        """Messages handled since the last successful commit."""
        return sum(self._counts.values())

    def is_due(self, *, drained: bool = False) -> bool:
        """True when there is something to commit and enough piled up or its time came (see
        ``__init__``; ``drained``: the last poll returned everything the consumer had)."""
        left = self.seconds_until_due(drained=drained)
        return left is not None and left <= 0

    def seconds_until_due(self, *, drained: bool = False) -> float | None:
        """Seconds until :meth:`is_due` turns true by time (0 if it is), None when nothing is pending.

        The loop bounds its poll timeout with it, so a quiet topic does not delay a commit."""
        if not self._offsets:
            return None
        if self.pending >= self._max_pending:
            return 0.0
        interval = self._drained_seconds if drained else self._interval
        return max(0.0, interval - (self._clock.monotonic() - self._opened_at))

    def forget(self, tps: Iterable[TopicPartition]) -> None:
        """Drop stored offsets of revoked partitions (their messages will be redelivered to the new owner)."""
        for tp in tps:
            self._offsets.pop(tp, None)
            self._counts.pop(tp, None)
            self._due_times.pop(tp, None)

    def commit(self) -> dict[TopicPartition, int]:
        """Make everything handled durable, then move the offsets. Steps, in order:

        1. flush each sink in order (MariaDB rows, then Elasticsearch tags or tag events);
        2. flush each producer (work topic, error topic, tag-event topic): every record acknowledged;
        3. commit ``offset + 1`` of every stored partition, synchronously (per-partition errors raise);
        4. report due-to-acknowledged latencies and start an empty checkpoint.

        A failure in 1-2 raises the sink's or producer's exception with the offsets kept for a
        retry; a failure in 3 raises :class:`CommitFailed`. Returns the committed next offsets.
        """
        started = self._clock.monotonic()
        for name, flushable in self._sinks:
            self._flush(name, flushable, stage=name)
        for name, flushable in self._producers:
            self._flush(name, flushable, stage="produce")
        committed = {tp: offset + 1 for tp, offset in self._offsets.items()}
        if committed:
            offsets_started = self._clock.monotonic()
            self._committer.commit(committed)
            self._sensor.on_stage(self._role, "offsets", self._clock.monotonic() - offsets_started)
        acknowledged = self._clock.wall()
        latencies = [max(0.0, acknowledged - due) for dues in self._due_times.values() for due in dues]
        self._sensor.on_acknowledged(self._role, latencies)
        self._sensor.on_commit(self._role, self._clock.monotonic() - started)
        self._offsets.clear()
        self._counts.clear()
        self._due_times.clear()
        return committed

    def _flush(self, name: str, flushable: Flushable, *, stage: str) -> None:
        started = self._clock.monotonic()
        try:
            report = flushable.flush()
        except Exception:
            self._sensor.on_sink_flush(name, self._clock.monotonic() - started, False)
            raise
        finally:
            self._sensor.on_stage(self._role, stage, self._clock.monotonic() - started)
        self._sensor.on_sink_flush(name, self._clock.monotonic() - started, True)
        if report is not None and any(report.outcomes.values()):
            self._sensor.on_sink_writes(name, report.outcomes)
            log.debug("flushed", extra={"role": self._role, "sink": name,
                                       "outcomes": {k: v for k, v in report.outcomes.items() if v}})
