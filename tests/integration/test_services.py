"""Smoke tests of the local stack: each client library the product uses does a real round
trip with its service. If one of these fails, every other integration test is suspect."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pymysql
import pytest
import redis
from confluent_kafka import Consumer, Producer
from elasticsearch import Elasticsearch
from kafka import KafkaConsumer, KafkaProducer

pytestmark = pytest.mark.integration

# Greek and an emoji: MariaDB must keep 4-byte UTF-8, not just the BMP.
TEXT = "Αθήνα — link 🔗"


def test_confluent_kafka_produce_then_consume(kafka_bootstrap: str, kafka_topic: str) -> None:
    key, value = b"elwiki|1771", uuid.uuid4().hex.encode()
    reports: list[Any] = []
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "acks": "all"})
    producer.produce(kafka_topic, key=key, value=value, headers=[("origin", b"smoke")],
                     on_delivery=lambda err, msg: reports.append((err, msg)))
    assert producer.flush(15) == 0
    assert reports[0][0] is None and reports[0][1].offset() == 0

    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"smoke-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([kafka_topic])
    try:
        deadline = time.monotonic() + 30
        msg = None
        while msg is None and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error():
                pytest.fail(f"consumer error: {msg.error()}")
    finally:
        consumer.close()
    assert msg is not None, "record not consumed within 30 s"
    assert (msg.key(), msg.value(), msg.headers()) == (key, value, [("origin", b"smoke")])
    assert (msg.topic(), msg.partition(), msg.offset()) == (kafka_topic, 0, 0)


def test_kafka_python_produce_then_consume(kafka_bootstrap: str, kafka_topic: str) -> None:
    value = uuid.uuid4().hex.encode()
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    try:
        metadata = producer.send(kafka_topic, key=b"k", value=value).get(timeout=15)
    finally:
        producer.close()
    assert (metadata.topic, metadata.partition, metadata.offset) == (kafka_topic, 0, 0)

    consumer = KafkaConsumer(kafka_topic, bootstrap_servers=kafka_bootstrap, group_id=f"smoke-{uuid.uuid4().hex}",
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=30_000)
    try:
        record = next(iter(consumer), None)
    finally:
        consumer.close()
    assert record is not None, "record not consumed within 30 s"
    assert (record.key, record.value, record.offset) == (b"k", value, 0)


def test_elasticsearch_index_then_read(es_client: Elasticsearch, es_index: str) -> None:
    es_client.indices.create(index=es_index, mappings={"properties": {"weighted_tags": {"type": "keyword"}}})
    doc = {"title": TEXT, "weighted_tags": ["recommendation.link/exists|1"]}
    es_client.index(index=es_index, id="1771", document=doc, refresh="wait_for")

    assert es_client.get(index=es_index, id="1771")["_source"] == doc
    hits = es_client.search(index=es_index, query={"term": {"weighted_tags": "recommendation.link/exists|1"}})
    assert [hit["_id"] for hit in hits["hits"]["hits"]] == ["1771"]
    # A partial update replaces the field and keeps the rest (no scripting needed).
    es_client.update(index=es_index, id="1771", doc={"weighted_tags": []}, refresh="wait_for")
    assert es_client.get(index=es_index, id="1771")["_source"] == {"title": TEXT, "weighted_tags": []}


def test_mariadb_write_then_read(mariadb_connection: pymysql.Connection) -> None:
    with mariadb_connection.cursor() as cur:
        cur.execute("CREATE TABLE smoke (id INT UNSIGNED PRIMARY KEY, title VARCHAR(255) NOT NULL, data MEDIUMBLOB)")
        cur.execute("INSERT INTO smoke VALUES (%s, %s, %s)", (1771, TEXT, b"\x00\xff{}"))
        cur.execute("SELECT id, title, data FROM smoke")
        assert cur.fetchall() == ((1771, TEXT, b"\x00\xff{}"),)
        cur.execute("SELECT @@character_set_server, @@character_set_connection")
        assert cur.fetchone() == ("utf8mb4", "utf8mb4")


def test_redis_set_then_get(redis_client: redis.Redis, redis_prefix: str) -> None:
    key = f"{redis_prefix}page:elwiki:1771"
    assert redis_client.set(key, TEXT.encode(), ex=60)
    assert redis_client.get(key) == TEXT.encode()
    assert 0 < redis_client.ttl(key) <= 60
    assert redis_client.incr(f"{redis_prefix}counter") == 1
