"""Weighted-tags and error events produced to the local stack's real Kafka broker and read back:
exact keys and values, schema conformance, raw bytes recovered, no credentials, and delivery
failures that raise instead of losing events."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import jsonschema
import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

from sinks.base import SinkError, TransientSinkError
from sinks.error_events import ErrorEventSink, decode_raw_event
from sinks.tag_events import SCHEMA_URI, STREAM, TagEventSink

pytestmark = pytest.mark.integration

SCHEMAS = Path(__file__).parents[1] / "data" / "schemas"
TAGS_SCHEMA = jsonschema.Draft7Validator(json.loads((SCHEMAS / "page_weighted_tags_change-1.0.0.json").read_text()))
ERROR_SCHEMA = jsonschema.Draft7Validator(json.loads((SCHEMAS / "error-2.1.0.json").read_text()))


@pytest.fixture
def producer(kafka_bootstrap: str) -> Producer:
    return Producer({"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True})


def read_back(bootstrap: str, topic: str, count: int, timeout: float = 30.0) -> list[tuple[bytes | None, bytes]]:
    """Exactly ``count`` messages from the start of ``topic`` (fails on fewer or more)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"addlink-test-{secrets.token_hex(4)}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    found: list[tuple[bytes | None, bytes]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(found) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                raise KafkaException(message.error())
            found.append((message.key(), message.value()))
        extra = consumer.poll(1.0)  # nothing beyond what was flushed
        assert extra is None, f"unexpected extra message {extra.value()!r}"
    finally:
        consumer.close()
    return found


def test_weighted_tag_events_land_on_the_topic_keyed_by_page(
    producer: Producer, kafka_bootstrap: str, kafka_topic: str
) -> None:
    sink = TagEventSink(producer, kafka_topic)
    page = {"domain": "el.wikipedia.org"}
    sink.set_link_tag("elwiki", 11, page_title="Αθήνα", **page)
    sink.clear_link_tag("elwiki", 12, page_title="Σπάρτη", rev_based=True, **page)
    sink.set_link_tag("elwiki", 13, page_title="Θήβα", **page)
    sink.clear_link_tag("elwiki", 13, page_title="Θήβα", **page)  # supersedes the set above

    result = sink.flush()

    assert result.operations == 3 and result.outcomes == {"set": 1, "clear": 2, "stale": 0}
    messages = read_back(kafka_bootstrap, kafka_topic, 3)
    assert [key for key, _ in messages] == [
        b'{"wiki_id":"elwiki","page_id":11}',
        b'{"wiki_id":"elwiki","page_id":12}',
        b'{"wiki_id":"elwiki","page_id":13}',
    ]
    events = [json.loads(value) for _, value in messages]
    for event in events:
        TAGS_SCHEMA.validate(event)
        assert event["$schema"] == SCHEMA_URI and event["meta"]["stream"] == STREAM
        assert event["meta"]["domain"] == "el.wikipedia.org" and event["wiki_id"] == "elwiki"
    assert events[0]["page"] == {"page_id": 11, "page_title": "Αθήνα", "namespace_id": 0}
    assert events[0]["weighted_tags"] == {"set": {"recommendation.link": [{"tag": "exists"}]}}
    assert "rev_based" not in events[0]
    assert events[1]["weighted_tags"] == {"clear": ["recommendation.link"]} and events[1]["rev_based"] is True
    assert events[2]["weighted_tags"] == {"clear": ["recommendation.link"]} and "rev_based" not in events[2]
    assert "Αθήνα".encode() in messages[0][1]  # UTF-8, not \\u escapes


def test_error_events_carry_the_raw_message_and_no_credentials(
    producer: Producer, kafka_bootstrap: str, kafka_topic: str
) -> None:
    password = f"pw-{secrets.token_hex(6)}"
    sink = ErrorEventSink(producer, kafka_topic, emitter_id="addlink-stream.test", stream="addlink.error",
                          secrets=[password])
    raw_json = b'{"$schema":"/mediawiki/page/change/1.3.0","meta":{"stream":"mediawiki.page_content_change.v1"}}'
    raw_binary = b"\x00\xff\xfe not utf-8"
    try:
        raise ConnectionError(f"redis://:{password}@cache:6379 refused")
    except ConnectionError as error:
        sink.report(raw_json, error, key=b'{"wiki_id":"elwiki","page_id":5}', topic="eqiad.x", partition=0, offset=9)
    sink.report(raw_binary, ValueError("not JSON"))

    assert sink.flush().operations == 2

    (key1, value1), (key2, value2) = read_back(kafka_bootstrap, kafka_topic, 2)
    first, second = json.loads(value1), json.loads(value2)
    for event in (first, second):
        ERROR_SCHEMA.validate(event)
        assert event["meta"]["stream"] == "addlink.error" and event["emitter_id"] == "addlink-stream.test"
    assert key1 == b'{"wiki_id":"elwiki","page_id":5}' and key2 is None
    assert decode_raw_event(first["raw_event"]) == raw_json
    assert first["errored_stream_name"] == "mediawiki.page_content_change.v1"
    assert first["errored_schema_uri"] == "/mediawiki/page/change/1.3.0"
    assert first["error_type"] == "ConnectionError"
    assert password.encode() not in value1 and "redis://:***@cache" in first["message"]
    assert decode_raw_event(second["raw_event"]) == raw_binary
    assert second["error_type"] == "ValueError" and "errored_stream_name" not in second


def test_a_message_the_broker_refuses_raises_a_permanent_error(
    producer: Producer, kafka_bootstrap: str, kafka_topic: str
) -> None:
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    small = ConfigResource(ResourceType.TOPIC, kafka_topic, incremental_configs=[
        ConfigEntry("max.message.bytes", "2000", incremental_operation=AlterConfigOpType.SET)])
    admin.incremental_alter_configs([small])[small].result(30)
    sink = ErrorEventSink(producer, kafka_topic, emitter_id="e")
    sink.report(b"x" * 10_000, ValueError("big"))
    with pytest.raises(SinkError, match="MSG_SIZE_TOO_LARGE") as raised:
        sink.flush()
    assert not isinstance(raised.value, TransientSinkError)
    assert sink.pending == 1


def test_an_unreachable_broker_is_transient_and_keeps_the_events() -> None:
    dead = Producer({"bootstrap.servers": "127.0.0.1:1", "message.timeout.ms": 1500, "log_level": 0})
    sink = TagEventSink(dead, "anything", timeout=10)
    sink.set_link_tag("elwiki", 1, page_title="Ένα", domain="el.wikipedia.org")
    with pytest.raises(TransientSinkError, match="MSG_TIMED_OUT|not acknowledged"):
        sink.flush()
    assert sink.pending == 1

