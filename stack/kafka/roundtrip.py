"""Kafka health check for the local stack: produce one record and read it back.

Usage: python stack/kafka/roundtrip.py HOST:PORT. Exit 0 when the record made the
round trip within the time limit, 1 otherwise (reason on stderr). Used by stack/*.sh;
needs only confluent_kafka.
"""

import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

TOPIC = "__addlink_stack_health"
DEADLINE_S = 20.0


def ensure_topic(bootstrap: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    if TOPIC in admin.list_topics(timeout=5).topics:
        return
    future = admin.create_topics([NewTopic(TOPIC, num_partitions=1, replication_factor=1)])[TOPIC]
    try:
        future.result(timeout=10)
    except KafkaException as exc:
        if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
            raise


def produce(bootstrap: str, token: bytes) -> int:
    """Returns the offset the broker assigned to the record."""
    delivered: list = []
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "message.timeout.ms": 10000})
    producer.produce(TOPIC, value=token, on_delivery=lambda err, msg: delivered.append((err, msg)))
    producer.flush(10)
    if not delivered:
        raise RuntimeError("no delivery report within 10 s")
    err, msg = delivered[0]
    if err is not None:
        raise RuntimeError(f"delivery failed: {err}")
    return msg.offset()


def read_back(bootstrap: str, offset: int, token: bytes) -> None:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "addlink-stack-health",
                         "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(TOPIC, 0, offset)])
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            if msg.value() == token:
                return
        raise RuntimeError(f"record at offset {offset} not read back within {DEADLINE_S:.0f} s")
    finally:
        consumer.close()


def main(bootstrap: str) -> int:
    token = uuid.uuid4().hex.encode()
    try:
        ensure_topic(bootstrap)
        read_back(bootstrap, produce(bootstrap, token), token)
    except Exception as exc:  # any failure means "not healthy"; the caller retries
        print(f"kafka round trip failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
