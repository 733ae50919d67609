"""The kafka-python (pure Python) transport of :mod:`stream.transport.kafka_io`; see its guarantees."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from stream.transport.checkpoint import CommitFailed
from stream.config import KafkaSettings
from stream.core.events import SourceMessage
from stream.transport.kafka_io import MAX_MESSAGE_BYTES, AssignCallback, TransportError, wait_for_metadata
from stream.core.quiet import TopicPartition


def client_config(settings: KafkaSettings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers.split(","),
        "security_protocol": settings.security_protocol,
    }
    if settings.sasl_mechanism:
        password = settings.secret("sasl_password")
        config |= {
            "sasl_mechanism": settings.sasl_mechanism,
            "sasl_plain_username": settings.sasl_username,
            "sasl_plain_password": password.get_secret_value() if password else None,
        }
    if settings.ssl_cafile:
        config["ssl_cafile"] = str(settings.ssl_cafile)
    if settings.ssl_certfile:
        config["ssl_certfile"] = str(settings.ssl_certfile)
    if settings.ssl_keyfile:
        config["ssl_keyfile"] = str(settings.ssl_keyfile)
    key_password = settings.secret("ssl_key_password")
    if key_password:
        config["ssl_password"] = key_password.get_secret_value()
    return config


def _extra(settings: KafkaSettings, known: Iterable[str]) -> dict[str, Any]:
    """extra_properties for kafka-python: librdkafka-style dotted names map to keyword names."""
    names = set(known)
    extra = {key.replace(".", "_"): value for key, value in settings.extra_properties.items()}
    return {key: value for key, value in extra.items() if key in names}


class KafkaPythonConsumer:
    """:class:`Consumer` over ``kafka.KafkaConsumer`` (pure Python)."""

    def __init__(self, settings: KafkaSettings, group_id: str, *, client_id: str, session_timeout_ms: int) -> None:
        from kafka import KafkaConsumer

        config = client_config(settings) | {
            "group_id": group_id,
            "client_id": client_id,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "session_timeout_ms": session_timeout_ms,
            "heartbeat_interval_ms": max(1000, session_timeout_ms // 3),
            "fetch_max_bytes": 4 * MAX_MESSAGE_BYTES,
            "max_partition_fetch_bytes": MAX_MESSAGE_BYTES,
            "fetch_max_wait_ms": 100,
        }
        self._config = config | _extra(settings, KafkaConsumer.DEFAULT_CONFIG)
        self._consumer = KafkaConsumer(**self._config)
        self._subscription: tuple[list[str], Any] | None = None

    @staticmethod
    def _tp(tp: TopicPartition) -> Any:
        from kafka import TopicPartition as _TP

        return _TP(tp[0], tp[1])

    def subscribe(self, topics: Sequence[str], on_assign: AssignCallback, on_revoke: AssignCallback) -> None:
        from kafka import ConsumerRebalanceListener

        class Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked: Any) -> None:
                on_revoke([(p.topic, p.partition) for p in revoked])

            def on_partitions_assigned(self, assigned: Any) -> None:
                on_assign([(p.topic, p.partition) for p in assigned])

        self._subscription = (list(topics), Listener())
        self._consumer.subscribe(self._subscription[0], listener=self._subscription[1])

    def rejoin(self) -> None:
        from kafka import KafkaConsumer

        self._consumer.close(autocommit=False)
        self._consumer = KafkaConsumer(**self._config)
        if self._subscription is not None:
            self._consumer.subscribe(self._subscription[0], listener=self._subscription[1])

    def assign(self, offsets: Mapping[TopicPartition, int]) -> None:
        self._consumer.assign([self._tp(tp) for tp in offsets])
        for tp, offset in offsets.items():
            self._consumer.seek(self._tp(tp), offset)

    def poll(self, max_messages: int, timeout: float) -> list[SourceMessage]:
        from kafka.errors import KafkaError

        try:
            batches = self._consumer.poll(timeout_ms=int(timeout * 1000), max_records=max_messages)
        except KafkaError as exc:
            raise TransportError(str(exc)) from exc
        return [
            SourceMessage(
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=record.key,
                value=record.value or b"",
                timestamp_ms=record.timestamp,
            )
            for records in batches.values()
            for record in records
        ]

    def pause(self, tps: Iterable[TopicPartition]) -> None:
        self._consumer.pause(*[self._tp(tp) for tp in tps])

    def resume(self, tps: Iterable[TopicPartition]) -> None:
        self._consumer.resume(*[self._tp(tp) for tp in tps])

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._consumer.seek(self._tp(tp), offset)

    def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        from kafka.errors import KafkaError
        from kafka.structs import OffsetAndMetadata

        try:
            self._consumer.commit(
                {self._tp(tp): OffsetAndMetadata(offset, "", -1) for tp, offset in offsets.items()}
            )
        except KafkaError as exc:
            raise CommitFailed(str(exc)) from exc

    def committed(self, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int | None]:
        from kafka.errors import KafkaError

        try:
            return {tp: self._consumer.committed(self._tp(tp)) for tp in tps}
        except KafkaError as exc:
            raise TransportError(str(exc)) from exc

    def watermarks(self, tp: TopicPartition) -> tuple[int, int]:
        from kafka.errors import KafkaError

        partition = self._tp(tp)
        try:
            low = self._consumer.beginning_offsets([partition])[partition]
            high = self._consumer.end_offsets([partition])[partition]
        except KafkaError as exc:
            raise TransportError(str(exc)) from exc
        return int(low), int(high)

    def end_offset(self, tp: TopicPartition) -> int:
        high = self._consumer.highwater(self._tp(tp))
        return int(high) if high is not None else self.watermarks(tp)[1]

    def offsets_for_times(self, times_ms: Mapping[TopicPartition, int]) -> dict[TopicPartition, int | None]:
        found = self._consumer.offsets_for_times({self._tp(tp): ms for tp, ms in times_ms.items()})
        return {(p.topic, p.partition): (hit.offset if hit is not None else None) for p, hit in found.items()}

    def partitions(self, topic: str) -> list[int]:
        return sorted(self._consumer.partitions_for_topic(topic) or [])

    def assignment(self) -> set[TopicPartition]:
        return {(p.topic, p.partition) for p in self._consumer.assignment()}

    def close(self) -> None:
        self._consumer.close(autocommit=False)


class _DeliveryError:
    """A kafka-python send error seen through confluent-kafka's ``KafkaError`` shape."""

    def __init__(self, error: BaseException) -> None:
        self._error = error

    def retriable(self) -> bool:
        return bool(getattr(self._error, "retriable", False))

    def __str__(self) -> str:
        return f"{type(self._error).__name__}: {self._error}"


class KafkaPythonProducer:
    """``kafka.KafkaProducer`` with confluent-kafka's produce/flush shape (see ``sinks.base.Producer``)."""

    def __init__(self, settings: KafkaSettings, *, client_id: str) -> None:
        from kafka import KafkaProducer

        config = client_config(settings) | {
            "client_id": client_id,
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": 20,
            "compression_type": None if settings.compression == "none" else settings.compression,
            "max_request_size": MAX_MESSAGE_BYTES,
        }
        self._producer = KafkaProducer(**(config | _extra(settings, KafkaProducer.DEFAULT_CONFIG)))
        self._lock = threading.Lock()
        self._outstanding = 0

    def produce(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        on_delivery: Callable[[Any, Any], None] | None = None,
    ) -> None:
        with self._lock:
            self._outstanding += 1
        future = self._producer.send(topic, value=value, key=key)

        def done(metadata: Any) -> None:
            self._settle()
            if on_delivery is not None:
                on_delivery(None, metadata)

        def failed(error: BaseException) -> None:
            self._settle()
            if on_delivery is not None:
                on_delivery(_DeliveryError(error), None)

        future.add_callback(done)
        future.add_errback(failed)

    def _settle(self) -> None:
        with self._lock:
            self._outstanding -= 1

    def flush(self, timeout: float | None = None) -> int:
        """Wait for every record sent so far; returns how many are still unacknowledged."""
        from kafka.errors import KafkaTimeoutError

        try:
            self._producer.flush(timeout=timeout)
        except KafkaTimeoutError:
            pass
        with self._lock:
            return self._outstanding

    def close(self) -> None:
        self._producer.close()


def make_producer(settings: KafkaSettings, *, client_id: str) -> KafkaPythonProducer:
    return KafkaPythonProducer(settings, client_id=client_id)


def ensure_topics(
    settings: KafkaSettings, partitions: Mapping[str, int], config: dict[str, str]
) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    admin = KafkaAdminClient(**client_config(settings))
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(name, num_partitions=count, topic_configs=config) for name, count in partitions.items()
                   if name not in existing]
        if missing:
            try:
                admin.create_topics(missing, timeout_ms=30_000)
            except TopicAlreadyExistsError:
                pass
            except KafkaError as exc:
                raise TransportError(f"cannot create topics: {exc}") from exc
            wait_for_metadata(lambda: set(admin.list_topics()), set(partitions))
    finally:
        admin.close()



def delete_topics(settings: KafkaSettings, topics: Sequence[str]) -> None:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(**client_config(settings))
    try:
        existing = set(admin.list_topics())
        doomed = [topic for topic in topics if topic in existing]
        if doomed:
            admin.delete_topics(doomed, timeout_ms=30_000)
    finally:
        admin.close()


@contextmanager
def group_describer(settings: KafkaSettings) -> Iterator[Callable[[str], tuple[bool, int]]]:
    """``describe(group) -> (stable, members)`` over one admin client (see kafka_io.wait_for_stable_group)."""
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(**client_config(settings))

    def describe(group: str) -> tuple[bool, int]:
        found = admin.describe_groups([group])[group]
        return found.get("group_state") == "Stable", len(found.get("members") or ())

    try:
        yield describe
    finally:
        admin.close()
