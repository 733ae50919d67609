"""Kafka behind one small protocol, with two transports: confluent-kafka (default) and kafka-python.

The pipeline only sees :class:`Consumer` (returns ``stream.core.events.SourceMessage`` records, commits
explicitly) and a producer shaped like ``sinks.base.Producer`` (confluent-kafka's signature:
``produce(topic, value=, key=, on_delivery=)`` and ``flush(timeout) -> undelivered``). Which library
carries them is ``kafka.client`` in the configuration (modules ``stream.transport.confluent`` and
``stream.transport.kafka_python``, imported only when chosen); both pass the same contract tests.

Guarantees and traps:
- Auto-commit and offset auto-store are off: offsets move only through :meth:`Consumer.commit`
  (called by the checkpoint with *next* offsets, i.e. last handled + 1), synchronously; any
  per-partition error raises :class:`~stream.transport.checkpoint.CommitFailed`.
- Both producers partition keyed records with murmur2 (Java's default): confluent-kafka is set to
  ``murmur2_random`` because librdkafka's own default (CRC32) would send the same key to another
  partition than kafka-python does, which would break per-page order if both were in use.
- Rebalance callbacks run inside :meth:`Consumer.poll`, on the polling thread, before partitions
  are taken away (eager protocol), so a revoke handler may still commit.
- Messages up to :data:`MAX_MESSAGE_BYTES` (article text travels in the work topic).
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any, Protocol

from stream.config import KafkaSettings
from stream.core.events import SourceMessage
from stream.core.quiet import TopicPartition

MAX_MESSAGE_BYTES = 20 * 1024 * 1024
"""Largest record we produce or accept (Wikimedia's HTML enrichment job uses 20 MiB too)."""

AssignCallback = Callable[[list[TopicPartition]], None]


class TransportError(Exception):
    """Kafka cannot be used right now (broker unreachable, fatal client error); back off and retry."""


class Consumer(Protocol):
    """What the consume loops need from a Kafka consumer."""

    def subscribe(self, topics: Sequence[str], on_assign: AssignCallback, on_revoke: AssignCallback) -> None:
        """Join the group; callbacks get ``(topic, partition)`` lists, on the polling thread."""

    def assign(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Read exactly these partitions from these offsets, outside group management (replay)."""

    def poll(self, max_messages: int, timeout: float) -> list[SourceMessage]:
        """Up to ``max_messages`` records, in offset order per partition; [] after ``timeout`` s."""

    def pause(self, tps: Iterable[TopicPartition]) -> None: ...

    def resume(self, tps: Iterable[TopicPartition]) -> None: ...

    def seek(self, tp: TopicPartition, offset: int) -> None:
        """Next poll of ``tp`` starts at ``offset`` (the partition must be assigned)."""

    def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Commit next offsets synchronously; raises CommitFailed on any error."""

    def committed(self, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int | None]: ...

    def watermarks(self, tp: TopicPartition) -> tuple[int, int]:
        """(low, high): first offset still stored and the offset the next record will get."""

    def end_offset(self, tp: TopicPartition) -> int:
        """The high watermark as the last fetch of ``tp`` reported it (no broker round trip, so it may
        be a fetch old: good for lag, not for bounds); asked of the broker when no fetch reported it."""

    def offsets_for_times(self, times_ms: Mapping[TopicPartition, int]) -> dict[TopicPartition, int | None]:
        """Earliest offset whose record timestamp is >= the time; None when there is none (end)."""

    def partitions(self, topic: str) -> list[int]: ...

    def assignment(self) -> set[TopicPartition]: ...

    def rejoin(self) -> None:
        """Leave the group and join it again with a fresh client and the same subscription."""

    def close(self) -> None: ...


# --------------------------------------------------------------------------- factories


def _transport(settings: KafkaSettings) -> ModuleType:
    name = "stream.transport.kafka_python" if settings.client == "kafka-python" else "stream.transport.confluent"
    return importlib.import_module(name)


def make_consumer(
    settings: KafkaSettings, group_id: str, *, client_id: str, session_timeout_ms: int = 10_000
) -> Consumer:
    """A consumer in ``group_id`` with manual commits, from the configured transport.

    ``auto.offset.reset`` is ``earliest``: a new group reads everything still in the topic.
    """
    consumer_class = "KafkaPythonConsumer" if settings.client == "kafka-python" else "ConfluentConsumer"
    return getattr(_transport(settings), consumer_class)(
        settings, group_id, client_id=client_id, session_timeout_ms=session_timeout_ms)


def make_producer(settings: KafkaSettings, *, client_id: str) -> Any:
    """A producer with ``produce(topic, value=, key=, on_delivery=)`` and ``flush(timeout) -> int``.

    Idempotent, acks from all in-sync replicas, compressed with ``kafka.compression`` (zstd by default: with gzip,
    compressing and decompressing the wikitext cost 6 ms of CPU per event, as much as scoring it).
    """
    return _transport(settings).make_producer(settings, client_id=client_id)


def ensure_topics(settings: KafkaSettings, partitions: Mapping[str, int]) -> None:
    """Create missing topics with the given partition counts (broker default replication), allowing
    :data:`MAX_MESSAGE_BYTES` records. Existing topics are left alone; one with fewer partitions
    than asked is reported, since repartitioning would break key order."""
    _transport(settings).ensure_topics(settings, partitions, {"max.message.bytes": str(MAX_MESSAGE_BYTES)})


def delete_topics(settings: KafkaSettings, topics: Sequence[str]) -> None:
    """Delete topics (those that do not exist are ignored); for benchmark and test namespaces."""
    _transport(settings).delete_topics(settings, topics)


def wait_for_metadata(list_topics: Callable[[], set[str]], wanted: set[str], attempts: int = 50) -> None:
    """Poll metadata until every wanted topic is visible (no fixed sleep after creation)."""
    for _ in range(attempts):
        if wanted <= list_topics():
            return
        time.sleep(0.1)
    raise TransportError(f"topics not visible after creation: {sorted(wanted - list_topics())}")


GROUP_CHECK_INTERVAL_S = 0.5


def wait_for_stable_group(settings: KafkaSettings, group: str, members: int, *, stop: threading.Event | None = None,
                          timeout: float = 120.0) -> bool:
    """Until ``group`` is stable with ``members`` members: True; False as soon as ``stop`` is set (a replay
    interrupted while its workers join); TransportError after ``timeout`` seconds. Why wait: a member
    joining while another holds uncommitted work makes that member commit in its revocation callback,
    and that synchronous commit sometimes hangs until our bound (30 s; confluent-kafka-python issue #1801)."""
    stop = stop or threading.Event()
    deadline = time.monotonic() + timeout
    with _transport(settings).group_describer(settings) as describe:
        while not stop.is_set():
            stable, count = describe(group)
            if stable and count == members:
                return True
            if time.monotonic() >= deadline:
                raise TransportError(f"the consumer group {group} did not settle with {members} members in {timeout:.0f} s")
            stop.wait(GROUP_CHECK_INTERVAL_S)
    return False
