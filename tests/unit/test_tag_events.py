"""Weighted-tags events: exact shape, schema conformance, coalescing, and delivery that never loses."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from sinks.base import SinkError, TagAction, TagChange, TransientSinkError
from sinks.tag_events import SCHEMA_URI, STREAM, TagEventSink, build_event, message_key

SCHEMA = jsonschema.Draft7Validator(
    json.loads((Path(__file__).parents[1] / "data/schemas/page_weighted_tags_change-1.0.0.json").read_text())
)
NOW = datetime(2026, 1, 10, 12, 5, 0, tzinfo=UTC)


def change(action: TagAction = TagAction.SET, page_id: int = 70793851, **extra: Any) -> TagChange:
    fields: dict[str, Any] = {"page_title": "Anees_(musician)", "domain": "en.wikipedia.org"} | extra
    return TagChange("enwiki", page_id, action, **fields)


class DeliveryError:
    """Stands in for a librdkafka KafkaError in a delivery report."""

    def __init__(self, name: str, fatal: bool = False) -> None:
        self._name, self._fatal = name, fatal

    def name(self) -> str:
        return self._name

    def fatal(self) -> bool:
        return self._fatal

    def __str__(self) -> str:
        return f"delivery failed: {self._name}"


TIMED_OUT = DeliveryError("_MSG_TIMED_OUT")  # librdkafka reports it as not retriable: it is transient


class FakeProducer:
    """Queues messages like a Kafka producer; ``flush`` reports each through its callback.

    ``verdict(value)`` decides a message's fate: None = acknowledged, an error = failed,
    "stuck" = never reported (still queued when flush times out).
    """

    def __init__(self, verdict: Callable[[bytes], Any] = lambda value: None) -> None:
        self.verdict = verdict
        self.queued: list[tuple[str, bytes | None, bytes, Callable[[Any, Any], None]]] = []
        self.delivered: list[tuple[str, bytes | None, bytes]] = []

    def produce(self, topic: str, *, value: bytes, key: bytes | None, on_delivery: Callable[[Any, Any], None]) -> None:
        self.queued.append((topic, key, value, on_delivery))

    def flush(self, timeout: float) -> int:
        stuck = []
        for topic, key, value, callback in self.queued:
            fate = self.verdict(value)
            if fate == "stuck":
                stuck.append((topic, key, value, callback))
            elif fate is None:
                self.delivered.append((topic, key, value))
                callback(None, object())
            else:
                callback(fate, None)
        self.queued = stuck
        return len(stuck)


def test_set_event_is_exactly_what_cirrussearch_sends() -> None:
    event = build_event(change(request_id="req-1"), now=NOW, event_id="id-1")
    assert event == {
        "$schema": "/mediawiki/cirrussearch/page_weighted_tags_change/1.0.0",
        "meta": {
            "stream": "mediawiki.cirrussearch.page_weighted_tags_change.v1",
            "domain": "en.wikipedia.org",
            "id": "id-1",
            "dt": "2026-01-10T12:05:00.000Z",
            "request_id": "req-1",
        },
        "dt": "2026-01-10T12:05:00.000Z",
        "wiki_id": "enwiki",
        "page": {"page_id": 70793851, "page_title": "Anees_(musician)", "namespace_id": 0},
        "weighted_tags": {"set": {"recommendation.link": [{"tag": "exists"}]}},
    }
    SCHEMA.validate(event)


def test_revision_triggered_clear_carries_rev_based_and_the_revision_time() -> None:
    rev_dt = datetime(2026, 1, 10, 14, 5, 0, tzinfo=timezone(timedelta(hours=2)))
    event = build_event(change(TagAction.CLEAR, rev_based=True, dt=rev_dt, is_redirect=False), now=NOW)
    assert event["weighted_tags"] == {"clear": ["recommendation.link"]}
    assert event["rev_based"] is True
    assert event["dt"] == "2026-01-10T12:05:00.000Z"  # converted to UTC
    assert event["page"]["is_redirect"] is False
    SCHEMA.validate(event)


def test_clear_without_revision_trigger_omits_rev_based() -> None:
    event = build_event(change(TagAction.CLEAR), now=NOW)
    assert "rev_based" not in event
    assert event["weighted_tags"] == {"clear": ["recommendation.link"]}
    SCHEMA.validate(event)


def test_each_event_gets_a_fresh_uuid() -> None:
    first, second = build_event(change())["meta"]["id"], build_event(change())["meta"]["id"]
    assert first != second and len(first) == 36


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"action": TagAction.SET, "rev_based": True}, "rev_based"),
        ({"action": TagAction.SET, "page_id": 0}, "page_id"),
        ({"action": TagAction.SET, "dt": datetime(2026, 1, 1)}, "time zone"),
    ],
)
def test_impossible_changes_are_refused(kwargs: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        change(**kwargs)


def test_wiki_id_must_be_a_database_name() -> None:
    with pytest.raises(ValueError, match="wiki id"):
        TagChange("en.wiki; DROP", 1, TagAction.SET)


def test_message_key_is_the_stream_key_json() -> None:
    assert message_key(change()) == b'{"wiki_id":"enwiki","page_id":70793851}'


def test_event_sink_refuses_changes_without_title_or_domain_and_buffers_nothing() -> None:
    sink = TagEventSink(FakeProducer(), "eqiad." + STREAM)
    with pytest.raises(ValueError, match="page_title"):
        sink.set_link_tag("enwiki", 5, domain="en.wikipedia.org")
    with pytest.raises(ValueError, match="domain"):
        sink.clear_link_tag("enwiki", 5, page_title="Five")
    assert sink.pending == 0


def test_flush_sends_the_last_change_per_page_keyed_by_page() -> None:
    producer = FakeProducer()
    sink = TagEventSink(producer, "eqiad." + STREAM)
    sink.set_link_tag("enwiki", 1, page_title="One", domain="en.wikipedia.org")
    sink.set_link_tag("enwiki", 2, page_title="Two", domain="en.wikipedia.org")
    sink.clear_link_tag("enwiki", 1, page_title="One", domain="en.wikipedia.org", rev_based=True)

    result = sink.flush()

    assert result.operations == 2 and result.outcomes == {"set": 1, "clear": 1, "stale": 0}
    assert result.sink == "tag_events" and result.seconds >= 0
    sent = [(topic, key, json.loads(value)) for topic, key, value in producer.delivered]
    assert [s[0] for s in sent] == ["eqiad." + STREAM] * 2
    assert [s[1] for s in sent] == [b'{"wiki_id":"enwiki","page_id":2}', b'{"wiki_id":"enwiki","page_id":1}']
    assert sent[1][2]["weighted_tags"] == {"clear": ["recommendation.link"]} and sent[1][2]["rev_based"] is True
    assert all(s[2]["$schema"] == SCHEMA_URI for s in sent)
    assert sink.pending == 0 and sink.flush().operations == 0


def test_failed_delivery_raises_keeps_the_buffer_and_a_retry_resends_identical_bytes() -> None:
    failing = {"on": True}
    producer = FakeProducer(lambda value: TIMED_OUT if failing["on"] else None)
    sink = TagEventSink(producer, "t")
    sink.set_link_tag("enwiki", 7, page_title="Seven", domain="en.wikipedia.org")

    with pytest.raises(TransientSinkError, match="1 of 1 messages to t failed"):
        sink.flush()
    assert sink.pending == 1 and producer.delivered == []

    failing["on"] = False
    assert sink.flush().operations == 1
    assert sink.pending == 0
    assert json.loads(producer.delivered[0][2])["page"]["page_id"] == 7


def test_retry_sends_the_same_event_id() -> None:
    verdicts = iter([TIMED_OUT, None])
    seen: list[bytes] = []

    def verdict(value: bytes) -> Any:
        seen.append(value)
        return next(verdicts)

    sink = TagEventSink(FakeProducer(verdict), "t")
    sink.clear_link_tag("enwiki", 9, page_title="Nine", domain="en.wikipedia.org")
    with pytest.raises(TransientSinkError):
        sink.flush()
    sink.flush()
    assert len(seen) == 2 and seen[0] == seen[1]


@pytest.mark.parametrize(
    "error",
    [
        DeliveryError("MSG_SIZE_TOO_LARGE"),
        DeliveryError("_FATAL", fatal=True),
        DeliveryError("TOPIC_AUTHORIZATION_FAILED"),
    ],
)
def test_permanent_delivery_error_is_not_transient(error: DeliveryError) -> None:
    sink = TagEventSink(FakeProducer(lambda value: error), "t")
    sink.set_link_tag("enwiki", 3, page_title="Three", domain="en.wikipedia.org")
    with pytest.raises(SinkError) as raised:
        sink.flush()
    assert not isinstance(raised.value, TransientSinkError)
    assert sink.pending == 1


def test_unacknowledged_messages_after_timeout_raise_transient() -> None:
    sink = TagEventSink(FakeProducer(lambda value: "stuck"), "t", timeout=0.01)
    sink.set_link_tag("enwiki", 4, page_title="Four", domain="en.wikipedia.org")
    with pytest.raises(TransientSinkError, match="not acknowledged"):
        sink.flush()
    assert sink.pending == 1
