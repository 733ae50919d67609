"""stream.transport.kafka_io's contract, the same for both transports (confluent-kafka, kafka-python), on the real broker."""

from __future__ import annotations

import secrets
import threading
import time

import pytest

from stream.config import KafkaSettings
from stream.transport.kafka_io import Consumer, make_consumer, make_producer, wait_for_stable_group

pytestmark = pytest.mark.integration

TRANSPORTS = ["confluent", "kafka-python"]


def settings(bootstrap: str, client: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=bootstrap, client=client)


def produce(config: KafkaSettings, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = make_producer(config, client_id="contract")
    errors = []
    for key, value in records:
        producer.produce(topic, value=value, key=key, on_delivery=lambda err, _msg: errors.append(err))
    assert producer.flush(30) == 0
    assert errors == [None] * len(records)


def read(consumer: Consumer, count: int, timeout: float = 20.0) -> list:
    got: list = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        got += consumer.poll(100, 0.5)
    return got


@pytest.mark.parametrize("client", TRANSPORTS)
def test_round_trip_commit_and_positions(kafka_bootstrap, make_kafka_topic, client) -> None:
    config = settings(kafka_bootstrap, client)
    topic = make_kafka_topic("transport", partitions=3)
    produce(config, topic, [(f"page{i % 7}".encode(), f"v{i}".encode()) for i in range(40)])
    group = f"contract-{secrets.token_hex(4)}"
    consumer = make_consumer(config, group, client_id="contract", session_timeout_ms=6000)
    assigned: list = []
    consumer.subscribe([topic], on_assign=assigned.extend, on_revoke=lambda tps: None)
    messages = read(consumer, 40)
    assert len(messages) == 40 and sorted(assigned) == [(topic, p) for p in range(3)]
    for partition in range(3):
        offsets = [m.offset for m in messages if m.partition == partition]
        assert offsets == sorted(offsets) == list(range(len(offsets))), "in offset order, none missing"
    assert all(m.timestamp_ms and m.timestamp_ms > 1_600_000_000_000 for m in messages)

    tp = (topic, messages[0].partition)
    assert consumer.watermarks(tp)[0] == 0
    ends = [consumer.end_offset((topic, p)) for p in range(3)]
    assert ends == [consumer.watermarks((topic, p))[1] for p in range(3)] and sum(ends) == 40, "as the last fetch said"
    consumer.commit({tp: 2})
    assert consumer.committed([tp]) == {tp: 2}
    assert consumer.offsets_for_times({tp: 0}) == {tp: 0}
    assert consumer.offsets_for_times({tp: int(time.time() * 1000) + 3_600_000}) == {tp: None}
    assert consumer.partitions(topic) == [0, 1, 2] and consumer.partitions("no-such-topic-" + group) == []

    consumer.pause([tp])
    consumer.seek(tp, 1)
    assert [m for m in consumer.poll(100, 1.0) if (m.topic, m.partition) == tp] == [], "paused"
    consumer.resume([tp])
    again = [m for m in read(consumer, 1) if (m.topic, m.partition) == tp]
    assert again and again[0].offset == 1, "resumed at the sought offset"
    consumer.close()

    # A new member of the group starts at the committed offset.
    successor = make_consumer(config, group, client_id="contract", session_timeout_ms=6000)
    successor.subscribe([topic], on_assign=lambda tps: None, on_revoke=lambda tps: None)
    first = {}
    for message in read(successor, 40 - 2):
        first.setdefault(message.partition, message.offset)
    assert first[tp[1]] == 2
    successor.close()


def test_both_transports_put_a_key_on_the_same_partition(kafka_bootstrap, make_kafka_topic) -> None:
    """Per-page order survives mixing transports: both partition keys with murmur2 (Java's default)."""
    topics = {client: make_kafka_topic(f"partitioner-{client}", partitions=12) for client in TRANSPORTS}
    keys = [f'{{"wiki_id":"elwiki","page_id":{n}}}'.encode() for n in range(60)]
    placement = {}
    for client, topic in topics.items():
        config = settings(kafka_bootstrap, client)
        produce(config, topic, [(key, b"x") for key in keys])
        consumer = make_consumer(config, f"contract-{secrets.token_hex(4)}", client_id="contract")
        consumer.assign({(topic, p): 0 for p in range(12)})
        placement[client] = {m.key: m.partition for m in read(consumer, len(keys))}
        consumer.close()
    assert placement["confluent"] == placement["kafka-python"]
    assert len(set(placement["confluent"].values())) > 6, "keys spread over the partitions"


@pytest.mark.parametrize("client", TRANSPORTS)
def test_a_bounded_assignment_reads_from_the_given_offsets(kafka_bootstrap, make_kafka_topic, client) -> None:
    config = settings(kafka_bootstrap, client)
    topic = make_kafka_topic("assign")
    produce(config, topic, [(None, f"v{i}".encode()) for i in range(10)])  # type: ignore[misc]
    consumer = make_consumer(config, f"contract-{secrets.token_hex(4)}", client_id="contract")
    consumer.assign({(topic, 0): 7})
    assert [m.value for m in read(consumer, 3)] == [b"v7", b"v8", b"v9"]
    assert consumer.assignment() == {(topic, 0)}
    consumer.close()


@pytest.mark.parametrize("client", TRANSPORTS)
def test_rejoin_leaves_and_joins_the_group_again_from_the_committed_offsets(kafka_bootstrap, make_kafka_topic,
                                                                          client) -> None:
    config = settings(kafka_bootstrap, client)
    topic = make_kafka_topic("rejoin", partitions=2)
    produce(config, topic, [(f"page{i}".encode(), f"v{i}".encode()) for i in range(10)])
    consumer = make_consumer(config, f"rejoin-{secrets.token_hex(4)}", client_id="contract", session_timeout_ms=6000)
    assigned: list = []
    consumer.subscribe([topic], on_assign=assigned.append, on_revoke=lambda tps: None)
    first = read(consumer, 10)
    consumer.commit({(topic, 0): 1, (topic, 1): 1})
    consumer.rejoin()
    again = read(consumer, 8)
    assert len(first) == 10 and len([a for a in assigned if a]) == 2, "assigned before and again after the rejoin"
    assert sorted((m.partition, m.offset) for m in again)[:1] == [(0, 1)] and len(again) == 8
    consumer.close()


@pytest.mark.parametrize("codec", ["zstd", "gzip", "none"])
def test_each_transport_reads_what_the_other_compressed(kafka_bootstrap, make_kafka_topic, codec) -> None:
    """Whatever codec ``kafka.compression`` names, either transport decodes the batches the other produced."""
    text = ("Η Αθήνα είναι η πρωτεύουσα της Ελλάδας. " * 500).encode()  # compressible, like wikitext
    for writer, reader in (("confluent", "kafka-python"), ("kafka-python", "confluent")):
        topic = make_kafka_topic(f"codec-{codec}-{writer}")
        produce(KafkaSettings(bootstrap_servers=kafka_bootstrap, client=writer, compression=codec), topic,
                [(b"page1", text)])
        consumer = make_consumer(settings(kafka_bootstrap, reader), f"contract-{secrets.token_hex(4)}",
                                 client_id="contract")
        consumer.assign({(topic, 0): 0})
        assert [m.value for m in read(consumer, 1)] == [text]
        consumer.close()


@pytest.mark.parametrize("client", TRANSPORTS)
def test_a_joined_member_makes_its_group_stable(kafka_bootstrap, make_kafka_topic, client) -> None:
    config = settings(kafka_bootstrap, client)
    topic = make_kafka_topic("stable", partitions=2)
    group = f"contract-{secrets.token_hex(4)}"
    consumer = make_consumer(config, group, client_id="contract", session_timeout_ms=6000)
    consumer.subscribe([topic], on_assign=lambda tps: None, on_revoke=lambda tps: None)
    stop = threading.Event()

    def keep_polling() -> None:  # a member joins, and stays, only while it polls
        while not stop.is_set():
            consumer.poll(10, 0.2)

    polling = threading.Thread(target=keep_polling)
    polling.start()
    try:
        assert wait_for_stable_group(config, group, 1, timeout=60) is True
    finally:
        stop.set()
        polling.join()
        consumer.close()
