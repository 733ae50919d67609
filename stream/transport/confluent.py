"""The confluent-kafka (librdkafka) transport of :mod:`stream.transport.kafka_io`; see its guarantees."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from stream.transport.checkpoint import CommitFailed
from stream.config import KafkaSettings
from stream.core.events import SourceMessage
from stream.transport.kafka_io import MAX_MESSAGE_BYTES, AssignCallback, TransportError, wait_for_metadata
from stream.core.quiet import TopicPartition

log = logging.getLogger(__name__)


def client_config(settings: KafkaSettings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap_servers,
        "security.protocol": settings.security_protocol,
    }
    if settings.sasl_mechanism:
        password = settings.secret("sasl_password")
        config |= {
            "sasl.mechanism": settings.sasl_mechanism,
            "sasl.username": settings.sasl_username,
            "sasl.password": password.get_secret_value() if password else None,
        }
    if settings.ssl_cafile:
        config["ssl.ca.location"] = str(settings.ssl_cafile)
    if settings.ssl_certfile:
        config["ssl.certificate.location"] = str(settings.ssl_certfile)
    if settings.ssl_keyfile:
        config["ssl.key.location"] = str(settings.ssl_keyfile)
    key_password = settings.secret("ssl_key_password")
    if key_password:
        config["ssl.key.password"] = key_password.get_secret_value()
    return config


def make_producer(settings: KafkaSettings, *, client_id: str) -> Any:
    """``confluent_kafka.Producer``: idempotent, acks=all, ``kafka.compression``, murmur2 partitioning (see kafka_io)."""
    from confluent_kafka import Producer

    config = client_config(settings) | {
        "client.id": client_id,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 20,
        "compression.type": settings.compression,
        "partitioner": "murmur2_random",
        "message.max.bytes": MAX_MESSAGE_BYTES,
        "logger": logging.getLogger("confluent_kafka.producer"),
    }
    return Producer(config | dict(settings.extra_properties))


class ConfluentConsumer:
    """:class:`Consumer` over ``confluent_kafka.Consumer``."""

    def __init__(self, settings: KafkaSettings, group_id: str, *, client_id: str, session_timeout_ms: int) -> None:
        from confluent_kafka import Consumer as _Consumer

        config = client_config(settings) | {
            "group.id": group_id,
            "client.id": client_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": session_timeout_ms,
            "heartbeat.interval.ms": max(1000, session_timeout_ms // 3),
            "fetch.max.bytes": 4 * MAX_MESSAGE_BYTES,
            "fetch.wait.max.ms": 100,  # an idle partition answers within 100 ms: low latency, cheap
            "logger": logging.getLogger("confluent_kafka.consumer"),
        }
        self._config = config | dict(settings.extra_properties)
        self._consumer = _Consumer(self._config)
        self._subscription: tuple[list[str], dict[str, Any]] | None = None
        # librdkafka's synchronous commit waits for a group coordinator without any time limit; after a
        # broker restart a client sometimes never finds one again, so calls into it are bounded.
        self._call_timeout_s = max(10.0, 3 * session_timeout_ms / 1000)
        self._stuck: threading.Thread | None = None

    @staticmethod
    def _tp(tp: TopicPartition, offset: int | None = None) -> Any:
        from confluent_kafka import TopicPartition as _TP

        return _TP(tp[0], tp[1]) if offset is None else _TP(tp[0], tp[1], offset)

    def subscribe(self, topics: Sequence[str], on_assign: AssignCallback, on_revoke: AssignCallback) -> None:
        def assigned(_consumer: Any, partitions: list[Any]) -> None:
            on_assign([(p.topic, p.partition) for p in partitions])

        def revoked(_consumer: Any, partitions: list[Any]) -> None:
            on_revoke([(p.topic, p.partition) for p in partitions])

        self._subscription = (list(topics), {"on_assign": assigned, "on_revoke": revoked, "on_lost": revoked})
        self._consumer.subscribe(self._subscription[0], **self._subscription[1])

    def _bounded(self, what: str, call: Callable[[], Any]) -> Any:
        """``call()`` on a helper thread, given up after ``_call_timeout_s`` (the thread is left to finish
        or hang; no further call is made while it hangs). Raises CommitFailed when it does not return."""
        if self._stuck is not None and self._stuck.is_alive():
            raise CommitFailed(f"kafka: an earlier {what} still waits for the group coordinator")
        outcome: list[tuple[bool, Any]] = []

        def run() -> None:
            try:
                outcome.append((True, call()))
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                outcome.append((False, exc))

        thread = threading.Thread(target=run, name=f"kafka-{what}", daemon=True)
        thread.start()
        thread.join(self._call_timeout_s)
        if not outcome:
            self._stuck = thread
            raise CommitFailed(f"kafka: {what} not done within {self._call_timeout_s:.0f} s (no group coordinator)")
        ok, value = outcome[0]
        if not ok:
            raise value
        return value

    def rejoin(self) -> None:
        from confluent_kafka import Consumer as _Consumer
        from confluent_kafka import KafkaException

        old = self._consumer
        try:
            self._bounded("close", old.close)
        except (CommitFailed, KafkaException, RuntimeError) as exc:  # a client that lost its group may hang leaving it
            log.warning("closing the consumer before rejoining failed; abandoning it", extra={"error": str(exc)})
        self._stuck = None  # calls still hanging belong to the abandoned client
        self._consumer = _Consumer(self._config)
        if self._subscription is not None:
            self._consumer.subscribe(self._subscription[0], **self._subscription[1])

    def assign(self, offsets: Mapping[TopicPartition, int]) -> None:
        self._consumer.assign([self._tp(tp, offset) for tp, offset in offsets.items()])

    def poll(self, max_messages: int, timeout: float) -> list[SourceMessage]:
        from confluent_kafka import KafkaError, KafkaException

        try:
            # consume(n, timeout) waits for n messages or the whole timeout; poll() returns at the
            # first one, then whatever is already fetched is taken without waiting.
            first = self._consumer.poll(timeout)
            if first is None:
                return []
            messages = [first, *(self._consumer.consume(max_messages - 1, 0) if max_messages > 1 else [])]
        except KafkaException as exc:
            raise TransportError(str(exc)) from exc
        records = []
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                if error.fatal():
                    raise TransportError(str(error))
                log.warning("kafka consumer error", extra={"kafka_error": str(error)})
                continue
            records.append(
                SourceMessage(
                    topic=message.topic(),
                    partition=message.partition(),
                    offset=message.offset(),
                    key=message.key(),
                    value=message.value() or b"",
                    timestamp_ms=message.timestamp()[1],
                )
            )
        return records

    def pause(self, tps: Iterable[TopicPartition]) -> None:
        partitions = [self._tp(tp) for tp in tps]
        if partitions:
            self._consumer.pause(partitions)

    def resume(self, tps: Iterable[TopicPartition]) -> None:
        partitions = [self._tp(tp) for tp in tps]
        if partitions:
            self._consumer.resume(partitions)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._consumer.seek(self._tp(tp, offset))

    def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        from confluent_kafka import KafkaException

        partitions = [self._tp(tp, offset) for tp, offset in offsets.items()]
        try:
            result = self._bounded("commit", lambda: self._consumer.commit(offsets=partitions, asynchronous=False))
        except KafkaException as exc:
            raise CommitFailed(str(exc)) from exc
        failed = [f"{p.topic}[{p.partition}]: {p.error}" for p in result or [] if p.error is not None]
        if failed:
            raise CommitFailed("; ".join(failed))

    def committed(self, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int | None]:
        from confluent_kafka import KafkaException

        try:
            partitions = self._consumer.committed([self._tp(tp) for tp in tps], timeout=10)
        except KafkaException as exc:
            raise TransportError(str(exc)) from exc
        return {(p.topic, p.partition): (p.offset if p.offset >= 0 else None) for p in partitions}

    def watermarks(self, tp: TopicPartition) -> tuple[int, int]:
        from confluent_kafka import KafkaException

        try:
            low, high = self._consumer.get_watermark_offsets(self._tp(tp), timeout=10, cached=False)
        except KafkaException as exc:
            raise TransportError(str(exc)) from exc
        return int(low), int(high)

    def end_offset(self, tp: TopicPartition) -> int:
        from confluent_kafka import KafkaException

        try:
            _, high = self._consumer.get_watermark_offsets(self._tp(tp), cached=True)
        except KafkaException as exc:
            raise TransportError(str(exc)) from exc
        return int(high) if high is not None and high >= 0 else self.watermarks(tp)[1]

    def offsets_for_times(self, times_ms: Mapping[TopicPartition, int]) -> dict[TopicPartition, int | None]:
        found = self._consumer.offsets_for_times([self._tp(tp, ms) for tp, ms in times_ms.items()], timeout=10)
        return {(p.topic, p.partition): (p.offset if p.offset >= 0 else None) for p in found}

    def partitions(self, topic: str) -> list[int]:
        metadata = self._consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return []
        return sorted(metadata.partitions)

    def assignment(self) -> set[TopicPartition]:
        return {(p.topic, p.partition) for p in self._consumer.assignment()}

    def close(self) -> None:
        """Leave the group, within the same bound as a commit. A client whose earlier call still hangs in
        librdkafka (a commit after a broker restart) is abandoned instead: its close would hang too and
        outlast the shutdown timeout; the broker drops the member after its session timeout."""
        try:
            self._bounded("close", self._consumer.close)
        except (CommitFailed, RuntimeError) as exc:
            log.warning("closing the consumer did not finish; abandoning it", extra={"error": str(exc)})


class _ExplainedAdmin:
    """An AdminClient that remembers what librdkafka reports on the side (failed SASL authentication
    and TLS handshakes through the error callback, a wrong ``security_protocol`` only as a log line),
    which a failed metadata request only summarises as "Broker transport failure"."""

    def __init__(self, settings: KafkaSettings) -> None:
        from confluent_kafka.admin import AdminClient

        self.errors: list[str] = []
        self.warnings: list[str] = []
        self._log = logging.getLogger("confluent_kafka.admin")
        self.client = AdminClient(client_config(settings) | {
            "logger": self,
            "error_cb": lambda error: self.errors.append(error.str()),
        })

    def log(self, level: int, msg: str, *args: object) -> None:
        """librdkafka's log lines (``"%s [%s] %s"``, facility first): warnings and connection
        failures (facility FAIL) are kept; all are passed on to the logger."""
        if level >= logging.WARNING or (args and args[0] == "FAIL"):
            self.warnings.append(str(args[-1]) if args else msg)
        self._log.log(level, msg, *args)

    def failure(self, exc: Exception) -> TransportError:
        """``exc`` with the last side error or warning, if any (their text never holds the password)."""
        self.client.poll(0.2)  # error callbacks are served by poll(), not by the failed request
        errors = [e for e in self.errors if "brokers are down" not in e]
        cause = (errors or self.warnings or [None])[-1]
        if cause and "APIVERSION_QUERY" in cause:  # the broker hung up on the first request
            cause += " (does kafka.security_protocol match the listener?)"
        return TransportError(f"{exc}: {cause}" if cause else str(exc))


def ensure_topics(settings: KafkaSettings, partitions: Mapping[str, int], config: dict[str, str]) -> None:
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import NewTopic

    explained = _ExplainedAdmin(settings)
    admin = explained.client
    try:
        existing = admin.list_topics(timeout=10).topics
    except KafkaException as exc:
        raise explained.failure(exc) from exc
    missing = [NewTopic(name, num_partitions=count, config=config) for name, count in partitions.items()
               if name not in existing]
    for name, count in partitions.items():
        if name in existing and len(existing[name].partitions) < count:
            log.warning("topic has fewer partitions than configured", extra={"topic": name, "configured": count,
                        "actual": len(existing[name].partitions)})
    if not missing:
        return
    for name, future in admin.create_topics(missing, operation_timeout=10).items():
        try:
            future.result(timeout=30)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise TransportError(f"cannot create topic {name}: {exc}") from exc
    wait_for_metadata(lambda: set(admin.list_topics(timeout=10).topics), set(partitions))



def delete_topics(settings: KafkaSettings, topics: Sequence[str]) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(client_config(settings) | {"logger": logging.getLogger("confluent_kafka.admin")})
    existing = admin.list_topics(timeout=10).topics
    doomed = [topic for topic in topics if topic in existing]
    for future in admin.delete_topics(doomed, operation_timeout=30).values() if doomed else ():
        future.result(timeout=60)


@contextmanager
def group_describer(settings: KafkaSettings) -> Iterator[Callable[[str], tuple[bool, int]]]:
    """``describe(group) -> (stable, members)`` over one admin client (see kafka_io.wait_for_stable_group)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(client_config(settings))

    def describe(group: str) -> tuple[bool, int]:
        description = admin.describe_consumer_groups([group])[group].result(timeout=10)
        return str(description.state).endswith("STABLE"), len(description.members)

    yield describe
