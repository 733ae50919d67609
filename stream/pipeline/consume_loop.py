"""The consume loop shared by ingest and worker: poll, handle, store offset, commit, resume.

One round (:meth:`ConsumeLoop.round`) is a few named calls, as in quix-streams' main loop:
resume partitions whose quiet period ended, poll (the timeout shortened to the next wake-up, never
a sleep), hand each message to the handler, record its offset, commit when the checkpoint is due,
report lag now and then. The handler returns :class:`Done` (its writes are buffered in the sinks)
or :class:`NotYet` (the item is not due: the partition is paused, sought back to that offset and
resumed at the due time; the other partitions keep flowing).

Failures:
- An infrastructure error (a sink, Kafka, Redis or the content source unavailable; see
  :func:`is_infrastructure_error`) while handling or committing is *backpressure*: every assigned
  partition is paused, the failed step is retried with exponential backoff (tenacity) while the
  loop keeps polling to stay in its group, and consumption resumes by itself from the first
  unhandled offset. Nothing is dead-lettered, nothing skipped.
- Any other exception raised by the handler is about that message (a bug or data the handler did
  not foresee): the message goes to the error topic with its raw bytes, and the loop goes on.
- Partitions revoked by a rebalance: the loop commits first; if it cannot (a sink is down), it
  discards every buffered write and forgets the uncommitted offsets, so writes of the new owner
  can never be overtaken by stale buffered ones. The new owner re-handles those messages.
- Stop (SIGTERM): the current message is finished, a final commit is tried, the consumer closed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import redis
import tenacity

from sinks.base import SinkError
from stream.transport.checkpoint import Checkpoint, CommitFailed
from stream.pipeline.content import ContentUnavailable
from stream.core.events import SourceMessage
from stream.observe.health import Health
from stream.transport.kafka_io import Consumer, TransportError
from stream.observe.metrics import Sensor, StageTimer
from stream.core.quiet import Clock, QuietSchedule, TopicPartition

log = logging.getLogger(__name__)

INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    SinkError,
    TransportError,
    CommitFailed,
    ContentUnavailable,
    redis.RedisError,
)


def is_infrastructure_error(error: BaseException) -> bool:
    """True for failures of a service (back off and retry), False for failures about one message."""
    return isinstance(error, INFRASTRUCTURE_ERRORS)


@dataclass(frozen=True)
class Done:
    """The message is handled; its writes are buffered. ``due_wall``: when it became due (latency)."""

    due_wall: float | None = None


@dataclass(frozen=True)
class NotYet:
    """The message must wait until the wall-clock time ``due_wall``."""

    due_wall: float


class Handler(Protocol):
    def prepare(self, messages: Sequence[SourceMessage]) -> None:
        """Called with each poll batch before its messages are handled, and with none once the
        batch is over or a service failed: a handler may read what the batch needs at once."""

    def handle(self, message: SourceMessage) -> Done | NotYet:
        """Handle one message; raise an infrastructure error to get backpressure and a retry."""


class ErrorReporter(Protocol):
    def report(self, raw: bytes, error: BaseException, **source: object) -> None: ...


@dataclass(frozen=True)
class LoopOptions:
    poll_batch: int = 100
    poll_timeout_s: float = 0.5
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    lag_interval_s: float = 10.0
    rejoin_after_s: float = 60.0


class ConsumeLoop:
    """Drives one consumer through a handler, a checkpoint and the quiet-period schedule."""

    def __init__(
        self,
        *,
        role: str,
        consumer: Consumer,
        handler: Handler,
        checkpoint: Checkpoint,
        errors: ErrorReporter,
        discard_buffers: Callable[[], None],
        clock: Clock,
        sensor: Sensor,
        health: Health,
        stop: threading.Event,
        options: LoopOptions = LoopOptions(),
    ) -> None:
        self.role = role
        self.consumer = consumer
        self._handler = handler
        self._checkpoint = checkpoint
        self._errors = errors
        self._discard_buffers = discard_buffers
        self._clock = clock
        self._sensor = sensor
        self._health = health
        self._stop = stop
        self._options = options
        self._schedule = QuietSchedule(clock)
        self._timer = StageTimer(sensor, role, clock)
        self._next: dict[TopicPartition, int] = {}  # first unhandled offset per partition
        self._end: dict[TopicPartition, int] = {}  # replay bound: offsets >= end are not read
        self._backpressure = False
        self._drained = False  # the last poll returned less than a full batch: nothing more was there
        # The first report waits an interval: before the first fetches, every partition's end is a broker
        # round trip queued behind the fetch (about 0.1 s each: 1.2 s of a replay's start on 12 partitions).
        self._lag_due = clock.monotonic() + options.lag_interval_s
        self._orphaned_since: float | None = None  # when a revocation left this member with nothing
        health.register(role)

    # ------------------------------------------------------------------ start

    def subscribe(self, topics: list[str]) -> None:
        """Join the consumer group on ``topics`` (long-running mode)."""
        self.consumer.subscribe(topics, on_assign=self._on_assign, on_revoke=self._on_revoke)

    def assign(self, start: Mapping[TopicPartition, int], end: Mapping[TopicPartition, int]) -> None:
        """Read each partition from ``start`` up to (excluding) ``end`` (bounded replay)."""
        self._end = dict(end)
        self._next = dict(start)
        self.consumer.assign({tp: offset for tp, offset in start.items()})

    def finished_bounded(self) -> bool:
        """True when every bounded partition was handled up to its end and all of it committed."""
        reached = all(self._next.get(tp, 0) >= end for tp, end in self._end.items())
        return reached and self._checkpoint.pending == 0

    def position(self, tp: TopicPartition) -> int | None:
        """The first offset of ``tp`` not handled yet (None if nothing is known)."""
        return self._next.get(tp)

    # ------------------------------------------------------------------ run

    def run(self, until: Callable[[], bool] | None = None) -> bool:
        """Rounds until stopped or ``until()`` is true, then a final commit and close.

        Returns True when ``until()`` ended it, False when it was stopped.
        """
        self._health.beat(self.role, phase="running")
        completed = False
        try:
            while not self._stop.is_set():
                if until is not None and until():
                    completed = True
                    break
                self.round()
            self._health.beat(self.role, phase="draining")
            self._final_commit()
        except Exception:
            self._health.beat(self.role, phase="failed")
            log.exception("consume loop failed", extra={"role": self.role})
            raise
        finally:
            self.consumer.close()
        self._health.beat(self.role, phase="stopped")
        return completed

    def round(self) -> None:
        """One pass: resume ripe partitions, poll, handle, commit when due, report lag."""
        with self._timer.stage("quiet"):
            self._resume_ripe()
        timeout = min(t for t in (self._options.poll_timeout_s, self._schedule.next_wakeup(),
                                  self._checkpoint.seconds_until_due(drained=self._drained)) if t is not None)
        with self._timer.stage("poll"):
            messages = self.consumer.poll(self._options.poll_batch, timeout)
        self._drained = len(messages) < self._options.poll_batch
        self._handle_batch(messages)
        if self._checkpoint.is_due(drained=self._drained):
            self._commit()
        self._report_lag()
        self._rejoin_if_orphaned()
        self._health.beat(self.role)

    def _rejoin_if_orphaned(self) -> None:
        """Once per loss: join the group afresh when no partition came back within ``rejoin_after_s``.

        Why: after a broker restart, librdkafka sometimes loses the group (session timeout) and then
        never sends JoinGroup again, while its peers rejoin; the member idles forever (seen in fault
        injection). A member that legitimately has nothing (more members than partitions) rejoins at
        most once after each revocation, which costs one rebalance."""
        if self._orphaned_since is None or self.consumer.assignment():
            return
        if self._clock.monotonic() - self._orphaned_since < self._options.rejoin_after_s:
            return
        self._orphaned_since = None
        log.warning("no partitions since the last revocation; joining the group afresh",
                    extra={"role": self.role, "after_s": self._options.rejoin_after_s})
        self.consumer.rejoin()

    def _handle_batch(self, messages: list[SourceMessage]) -> None:
        if not messages:
            return
        self._prepare([m for m in messages if not self._schedule.is_held((m.topic, m.partition))])
        try:
            self._handle_each(messages)
        finally:
            self._prepare([])

    def _prepare(self, messages: Sequence[SourceMessage]) -> None:
        """The handler's batch reads are only a shortcut: when a service fails them, the per-message
        reads meet the same failure and bring backpressure the usual way."""
        try:
            self._handler.prepare(messages)
        except Exception as error:
            if not is_infrastructure_error(error):
                raise
            self._handler.prepare([])
            log.info("batch read failed; reading per message", extra={"role": self.role, "error": str(error)})

    def _handle_each(self, messages: list[SourceMessage]) -> None:
        for message in messages:
            if self._stop.is_set():
                return  # not handled: redelivered after restart
            tp = (message.topic, message.partition)
            if not self._wanted(tp, message.offset):
                continue
            self._health.beat(self.role)  # scoring a batch can take a while: stay visibly alive
            try:
                result = self._handle(message)
            except Exception as error:
                if not is_infrastructure_error(error):
                    raise
                self._next[tp] = message.offset
                self._prepare([])  # read afresh after the outage
                self._ride_out(error, lambda: self._retry_message(message))
                return  # the rest of the batch is read again after the partitions resume
            self._record(tp, message.offset, result)

    def _wanted(self, tp: TopicPartition, offset: int) -> bool:
        """False for messages of held partitions, stale prefetches and offsets past a replay bound."""
        if self._schedule.is_held(tp):
            return False
        if offset < self._next.get(tp, -1):
            return False
        end = self._end.get(tp)
        if end is not None and offset >= end:
            self.consumer.pause([tp])
            self._next[tp] = max(self._next.get(tp, end), end)
            return False
        return True

    def _handle(self, message: SourceMessage) -> Done | NotYet:
        try:
            return self._handler.handle(message)
        except Exception as error:
            if is_infrastructure_error(error):
                raise
            log.exception("message could not be handled", extra={
                "role": self.role, "topic": message.topic, "partition": message.partition, "offset": message.offset})
            self._errors.report(message.value, error, key=message.key, topic=message.topic,
                                partition=message.partition, offset=message.offset)
            self._sensor.on_error(self.role, type(error).__name__)
            return Done()

    def _record(self, tp: TopicPartition, offset: int, result: Done | NotYet) -> None:
        if isinstance(result, NotYet):
            with self._timer.stage("quiet"):
                self._schedule.hold(tp, offset, result.due_wall)
                self.consumer.pause([tp])
                self.consumer.seek(tp, offset)
                self._next[tp] = offset
                self._sensor.on_partitions_held(self.role, len(self._schedule.held()))
            return
        self._checkpoint.store_offset(tp, offset, due_wall=result.due_wall)
        self._next[tp] = offset + 1

    def _retry_message(self, message: SourceMessage) -> None:
        tp = (message.topic, message.partition)
        if tp not in self.consumer.assignment() or self._next.get(tp) != message.offset:
            return  # revoked meanwhile: the new owner handles it
        self._record(tp, message.offset, self._handle(message))

    def _resume_ripe(self) -> None:
        ripe = self._schedule.take_ripe()
        if not ripe:
            return
        assigned = self.consumer.assignment()
        for tp, offset in ripe:
            if tp in assigned:
                self.consumer.seek(tp, offset)
                self.consumer.resume([tp])
        self._sensor.on_partitions_held(self.role, len(self._schedule.held()))

    # ------------------------------------------------------------------ commits

    def _commit(self) -> None:
        try:
            self._checkpoint.commit()
        except Exception as error:
            if not is_infrastructure_error(error):
                raise
            self._ride_out(error, self._checkpoint.commit)

    def _final_commit(self) -> None:
        """One attempt: if a sink is down at shutdown, the uncommitted messages are simply redelivered."""
        if self._checkpoint.pending == 0:
            return
        try:
            self._checkpoint.commit()
        except Exception as error:
            if not is_infrastructure_error(error):
                raise
            log.warning("final commit failed; uncommitted messages will be delivered again",
                        extra={"role": self.role, "error": str(error)})

    # ------------------------------------------------------------------ backpressure

    def _ride_out(self, error: BaseException, retry: Callable[[], object]) -> None:
        """Pause everything, retry ``retry`` with backoff while polling, then resume where we were."""
        self._backpressure = True
        self._sensor.on_backpressure(self.role, True)
        self._health.beat(self.role, backpressure=True, detail=f"{type(error).__name__}: {error}")
        log.warning("backpressure: pausing consumption", extra={"role": self.role, "error": str(error)})
        self.consumer.pause(self.consumer.assignment())
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(is_infrastructure_error),
            wait=tenacity.wait_exponential_jitter(multiplier=self._options.backoff_initial_s,
                                                  max=self._options.backoff_max_s),
            stop=tenacity.stop_when_event_set(self._stop),
            sleep=self._idle,
            before_sleep=lambda state: log.warning("still unavailable, retrying", extra={
                "role": self.role, "attempt": state.attempt_number,
                "error": str(state.outcome.exception()) if state.outcome else ""}),
            reraise=True,
        )
        try:
            retrying(retry)
            if self._checkpoint.pending:
                retrying(self._checkpoint.commit)
        except Exception as final:
            if not (self._stop.is_set() and is_infrastructure_error(final)):
                raise
            log.warning("stopping while a service is unavailable", extra={"role": self.role, "error": str(final)})
        finally:
            self._backpressure = False
            self._sensor.on_backpressure(self.role, False)
            self._health.beat(self.role, backpressure=False)
            if not self._stop.is_set():
                self._resume_all()
        log.info("backpressure over: consumption resumed", extra={"role": self.role})

    def _idle(self, seconds: float) -> None:
        """Tenacity's sleep: keep polling (group membership, rebalances) without handling anything."""
        deadline = self._clock.monotonic() + seconds
        while not self._stop.is_set():
            left = deadline - self._clock.monotonic()
            if left <= 0:
                return
            self.consumer.poll(self._options.poll_batch, min(left, self._options.poll_timeout_s))
            self.consumer.pause(self.consumer.assignment())  # partitions assigned meanwhile too
            self._health.beat(self.role)

    def _resume_all(self) -> None:
        """Seek every assigned, not held partition back to its first unhandled offset and resume it."""
        assigned = self.consumer.assignment()
        positions = self._positions([tp for tp in assigned if not self._schedule.is_held(tp)])
        to_resume = []
        for tp, position in positions.items():
            end = self._end.get(tp)
            if end is not None and position >= end:
                continue  # a bounded partition that is finished stays paused
            self.consumer.seek(tp, position)
            to_resume.append(tp)
        self.consumer.resume(to_resume)

    def _positions(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        """First unhandled offset of each partition: this loop's own position, else the group's
        committed offset, else the start of the log (auto.offset.reset=earliest)."""
        unknown = [tp for tp in tps if tp not in self._next]
        committed = self.consumer.committed(unknown) if unknown else {}
        positions = {}
        for tp in tps:
            position = self._next.get(tp, committed.get(tp))
            positions[tp] = position if position is not None else self.consumer.watermarks(tp)[0]
        return positions

    # ------------------------------------------------------------------ rebalance

    def _on_assign(self, tps: list[TopicPartition]) -> None:
        self._orphaned_since = None
        for tp in tps:
            self._next.pop(tp, None)
        if self._backpressure:
            self.consumer.pause(tps)
        else:  # librdkafka keeps a partition's pause across revocation and reassignment (fault injection)
            self.consumer.resume(tps)
        log.info("partitions assigned", extra={"role": self.role, "partitions": [f"{t}[{p}]" for t, p in tps]})

    def _on_revoke(self, tps: list[TopicPartition]) -> None:
        committed = False
        if not self._backpressure:
            try:
                self._checkpoint.commit()
                committed = True
            except Exception as error:
                if not is_infrastructure_error(error):
                    raise
                log.warning("cannot commit before revocation", extra={"role": self.role, "error": str(error)})
        if not committed and self._checkpoint.pending:
            # Buffered writes of revoked partitions must not land after the new owner's writes.
            self._discard_buffers()
            self._checkpoint.forget(self.consumer.assignment() | set(tps))
            self._next.clear()
        self._checkpoint.forget(tps)
        self._schedule.forget(tps)
        self._sensor.on_partitions_revoked(self.role, list(tps))  # their lag is the new owner's to report
        for tp in tps:
            self._next.pop(tp, None)
        self._sensor.on_partitions_held(self.role, len(self._schedule.held()))
        if tps and not (self.consumer.assignment() - set(tps)):
            self._orphaned_since = self._clock.monotonic()
        log.info("partitions revoked", extra={"role": self.role, "partitions": [f"{t}[{p}]" for t, p in tps]})

    # ------------------------------------------------------------------ lag

    def _report_lag(self) -> None:
        """Lag of EVERY assigned partition, each interval: from the first unhandled offset (see
        :meth:`_positions`) to the end of the partition. A partition that never delivered a message
        here (idle, or paused before its first fetch) is reported too, from its committed offset.
        The end of a partition being fetched is the one its last fetch reported (a broker round trip
        per partition each interval cost the worker a tenth of its time under load, bench stream);
        a paused one (held, backpressure, replay bound) is not fetched, so its end is asked of the broker.
        Best effort: a broker that cannot answer costs a log line, never the loop."""
        now = self._clock.monotonic()
        if now < self._lag_due:
            return
        self._lag_due = now + self._options.lag_interval_s
        try:
            for tp, position in self._positions(sorted(self.consumer.assignment())).items():
                fetching = not (self._backpressure or self._schedule.is_held(tp) or tp in self._end)
                high = self.consumer.end_offset(tp) if fetching else self.consumer.watermarks(tp)[1]
                self._sensor.on_lag(self.role, tp[0], tp[1], max(0, high - position))
        except Exception as error:  # noqa: BLE001 - a metric must never stop consumption
            log.warning("cannot read offsets for lag", extra={"role": self.role, "error": str(error)})
