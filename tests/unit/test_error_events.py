"""Error events: Wikimedia error 2.1.0 shape, raw_event round trip for any bytes, no credentials."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sinks.base import json_bytes
from sinks.error_events import (
    ErrorEventSink,
    FailedMessage,
    Scrubber,
    build_error_event,
    decode_raw_event,
    encode_raw_event,
)

SCHEMA = jsonschema.Draft7Validator(
    json.loads((Path(__file__).parents[1] / "data/schemas/error-2.1.0.json").read_text())
)
RAW = (
    b'{"$schema":"/mediawiki/page/change/1.3.0","meta":{"stream":"mediawiki.page_content_change.v1",'
    b'"domain":"el.wikipedia.org"},"wiki_id":"elwiki","page":{"page_id":"not a number"}}'
)
SECRET = "s3cr3t-Pa55"


def failure(error: BaseException, raw: bytes = RAW, **extra: Any) -> FailedMessage:
    return FailedMessage(raw, error, **extra)


def raised(exc: BaseException) -> BaseException:
    """The exception with a real traceback, as the pipeline catches it."""
    try:
        raise exc
    except BaseException as caught:  # noqa: BLE001 - that is the point
        return caught


def test_event_has_the_error_schema_shape_and_fields_taken_from_the_raw_event() -> None:
    now = datetime(2026, 1, 10, 12, 5, 9, tzinfo=UTC)
    event = build_error_event(
        failure(raised(ValueError("page.page_id: not an integer"))),
        stream="addlink.error",
        emitter_id="addlink-stream.host1",
        now=now,
    )
    SCHEMA.validate(event)
    assert event["$schema"] == "/error/2.1.0"
    assert event["meta"]["stream"] == "addlink.error"
    assert event["meta"]["dt"] == event["dt"] == "2026-01-10T12:05:09.000Z"
    assert event["meta"]["domain"] == "el.wikipedia.org"
    assert len(event["meta"]["id"]) == 36
    assert event["emitter_id"] == "addlink-stream.host1"
    assert event["error_type"] == "ValueError"
    assert event["message"] == "page.page_id: not an integer"
    assert event["raw_event"] == RAW.decode()
    assert event["errored_stream_name"] == "mediawiki.page_content_change.v1"
    assert event["errored_schema_uri"] == "/mediawiki/page/change/1.3.0"
    assert "Traceback" in event["stack"] and "ValueError: page.page_id" in event["stack"]


def test_explicit_stream_and_schema_win_and_unparsable_raw_still_yields_an_event() -> None:
    event = build_error_event(
        failure(ValueError("bad json"), raw=b"{not json", errored_stream_name="s", errored_schema_uri="/x/1.0.0"),
        stream="addlink.error",
        emitter_id="e",
    )
    SCHEMA.validate(event)
    assert event["raw_event"] == "{not json"
    assert (event["errored_stream_name"], event["errored_schema_uri"]) == ("s", "/x/1.0.0")
    assert "domain" not in event["meta"]


def test_lone_surrogates_in_the_raw_event_or_the_error_still_give_an_encodable_event() -> None:
    raw = b'{"$schema": "/x\\ud800", "meta": {"stream": "s\\udfff", "domain": "d"}, "x": 1}'  # found by the fuzz run
    event = build_error_event(FailedMessage(raw, ValueError("bad \ud800 value")), stream="addlink.error",
                              emitter_id="test")
    encoded = json_bytes(event)
    assert json.loads(encoded)["errored_schema_uri"] == "/x?" and decode_raw_event(event["raw_event"]) == raw
    assert "bad ? value" in event["message"]


def test_chained_causes_are_in_the_stack() -> None:
    try:
        try:
            raise KeyError("revision")
        except KeyError as inner:
            raise RuntimeError("cannot read revision") from inner
    except RuntimeError as outer:
        event = build_error_event(failure(outer), stream="e", emitter_id="e")
    assert "KeyError: 'revision'" in event["stack"]
    assert "RuntimeError: cannot read revision" in event["stack"]


@pytest.mark.parametrize(
    "raw",
    [
        RAW,
        b"",
        "Αθήνα — Київ".encode(),
        b"\xff\xfe\x00garbage",  # not UTF-8
        b"base64:looks like our marker",  # UTF-8 but ambiguous: must be encoded too
        b"\x00\x01 control \x7f",
    ],
)
def test_raw_event_round_trips_any_bytes(raw: bytes) -> None:
    text = encode_raw_event(raw)
    assert isinstance(text, str)
    json.dumps(text).encode("utf-8")  # always serialisable as JSON text
    assert decode_raw_event(text) == raw


@given(st.binary(max_size=512))
def test_raw_event_round_trip_property(raw: bytes) -> None:
    assert decode_raw_event(encode_raw_event(raw)) == raw


def test_invalid_utf8_is_base64_and_valid_utf8_is_kept_as_text() -> None:
    assert encode_raw_event(b"\xff") == "base64:/w=="
    assert encode_raw_event("{\"title\":\"Ώ\"}".encode()) == "{\"title\":\"Ώ\"}"


def test_secrets_and_url_passwords_never_reach_message_or_stack() -> None:
    error = raised(
        ConnectionError(
            f"cannot login as addlink with password {SECRET} to mysql://addlink:{SECRET}@db1:3306 "
            "and redis://:other-pw@redis:6379/0"
        )
    )
    event = build_error_event(failure(error), stream="e", emitter_id="e", scrub=Scrubber([SECRET, None, ""]))
    encoded = json_bytes(event).decode()
    assert SECRET not in encoded
    assert "other-pw" not in encoded
    assert "mysql://addlink:***@db1:3306" in event["message"]
    assert "redis://:***@redis:6379/0" in event["message"]
    assert SECRET not in event["stack"] and "***" in event["stack"]


def test_longest_secret_is_replaced_first() -> None:
    scrub = Scrubber(["abc", "abcdef"])
    assert scrub("key=abcdef") == "key=***"


def test_oversized_event_keeps_a_prefix_and_says_where_the_whole_message_is() -> None:
    raw = ("{\"text\":\"" + "Ω\\\"" * 300_000 + "\"}").encode()  # escapes grow the JSON
    event = build_error_event(
        failure(ValueError("too big"), raw=raw, topic="eqiad.mediawiki.page_content_change.v1", partition=0, offset=42),
        stream="e",
        emitter_id="e",
        max_event_bytes=100_000,
    )
    assert len(json_bytes(event)) <= 100_000
    kept = decode_raw_event(event["raw_event"])
    assert kept and raw.startswith(kept)
    kept.decode("utf-8")  # cut on a character boundary, still text
    assert event["message"].startswith("too big [raw_event truncated: ")
    assert f"of {len(raw)} bytes kept" in event["message"]
    assert "eqiad.mediawiki.page_content_change.v1[0]@42" in event["message"]


def test_huge_message_and_stack_are_clipped() -> None:
    event = build_error_event(failure(ValueError("x" * 50_000)), stream="e", emitter_id="e")
    assert len(event["message"]) < 9_000 and "characters cut" in event["message"]


class RecordingProducer:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes | None, bytes]] = []

    def produce(self, topic: str, *, value: bytes, key: bytes | None, on_delivery: Callable[[Any, Any], None]) -> None:
        self.messages.append((topic, key, value))
        on_delivery(None, object())

    def flush(self, timeout: float) -> int:
        return 0


def test_sink_builds_at_report_time_and_produces_on_flush() -> None:
    producer = RecordingProducer()
    sink = ErrorEventSink(producer, "addlink.error", emitter_id="addlink", secrets=[SECRET])
    sink.report(b"\xff", raised(ValueError(f"boom {SECRET}")), key=b'{"wiki_id":"elwiki","page_id":1}')
    assert sink.pending == 1 and producer.messages == []

    result = sink.flush()

    assert result.operations == 1 and result.outcomes == {"errors": 1} and sink.pending == 0
    topic, key, value = producer.messages[0]
    event = json.loads(value)
    assert topic == "addlink.error" and key == b'{"wiki_id":"elwiki","page_id":1}'
    assert event["meta"]["stream"] == "addlink.error"
    assert event["message"] == "boom ***" and decode_raw_event(event["raw_event"]) == b"\xff"
    assert sink.flush().operations == 0


def test_scrubbing_stays_linear_on_long_messages() -> None:
    import time

    text = "://" + "a" * 1_000_000 + ":" + "b" * 1_000_000
    started = time.monotonic()
    assert Scrubber(["zzz"])(text) == text
    assert time.monotonic() - started < 2.0
