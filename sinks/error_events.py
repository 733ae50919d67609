"""Error side output: events that could not be processed, in Wikimedia's ``error`` 2.1.0 shape.

One event per failed input message (reference events-and-search.md §4.3): ``$schema``
``/error/2.1.0``, ``meta{stream, dt, id[, domain]}``, ``dt``, ``emitter_id``, ``error_type`` (the
exception class), ``message``, ``raw_event``, ``errored_stream_name`` / ``errored_schema_uri`` /
``meta.domain`` (taken from the raw event when it is a JSON object carrying them, unless given),
and ``stack`` (the formatted traceback, chained causes included).

``raw_event`` encoding (the schema wants a string; the input may be any bytes):
- bytes that are valid UTF-8 are stored as that text, unchanged: a JSON event reads as itself;
- anything else (and, to stay unambiguous, text that itself starts with ``base64:``) is stored
  as ``"base64:" + base64(bytes)``. :func:`decode_raw_event` returns the original bytes.
- An event larger than ``max_event_bytes`` (Kafka's default message limit is 1 MB) keeps only a
  prefix of the raw bytes and says so in ``message``, with the source topic/partition/offset
  where the whole message can be read back while Kafka retains it.

Credentials never leave: every configured secret string, and the password part of any
``scheme://user:password@`` URL, is replaced by ``***`` in ``message`` and ``stack``.
The error topic is written at-least-once; ``flush()`` returns once the broker acknowledged all.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import traceback
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sinks.base import FlushResult, Producer, Sink, deliver, json_bytes, utc_iso

SCHEMA_URI = "/error/2.1.0"
BASE64_PREFIX = "base64:"
MAX_MESSAGE_CHARS = 8_000
MAX_STACK_CHARS = 64_000
REDACTED = "***"
# Anchored on the literal "://" so scanning stays linear on long messages without URLs.
_URL_PASSWORD = re.compile(r"(?P<head>://[^/\s:@]*:)[^/\s@]+@")


def encode_raw_event(raw: bytes) -> str:
    """``raw`` as a string: UTF-8 text as is, else ``base64:`` + base64 (see module docstring)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and not text.startswith(BASE64_PREFIX):
        return text
    return BASE64_PREFIX + base64.b64encode(raw).decode("ascii")


def decode_raw_event(text: str) -> bytes:
    """Inverse of :func:`encode_raw_event` (for a truncated event: the kept prefix)."""
    if text.startswith(BASE64_PREFIX):
        try:
            return base64.b64decode(text[len(BASE64_PREFIX) :], validate=True)
        except binascii.Error as exc:
            raise ValueError(f"raw_event is not valid base64: {exc}") from exc
    return text.encode("utf-8")


class Scrubber:
    """Replaces secrets in text. Longest secrets first, so one that contains another goes whole."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return _URL_PASSWORD.sub(lambda m: m.group("head") + REDACTED + "@", text)


@dataclass(frozen=True)
class FailedMessage:
    """An input message that could not be processed, and why."""

    raw: bytes
    error: BaseException
    key: bytes | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    errored_stream_name: str | None = None
    errored_schema_uri: str | None = None

    @property
    def source(self) -> str | None:
        if self.topic is None:
            return None
        return f"{self.topic}[{self.partition}]@{self.offset}"


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n... [{len(text) - 2 * half} characters cut] ...\n{text[-half:]}"


def _raw_fields(raw: bytes) -> dict[str, str]:
    """$schema, meta.stream and meta.domain of a raw event, when it is a JSON object with them."""
    try:
        event = json.loads(raw)
    except (ValueError, RecursionError):
        return {}
    if not isinstance(event, dict):
        return {}
    meta = event.get("meta") if isinstance(event.get("meta"), dict) else {}
    found = {"schema": event.get("$schema"), "stream": meta.get("stream"), "domain": meta.get("domain")}
    return {k: _utf8(v) for k, v in found.items() if isinstance(v, str) and v}


def _utf8(text: str) -> str:
    """``text`` with what UTF-8 cannot carry (lone surrogates, e.g. from a JSON "\\ud800" escape)
    replaced, so the error event can always be encoded."""
    return text.encode("utf-8", "replace").decode("utf-8")


def build_error_event(
    failed: FailedMessage,
    *,
    stream: str,
    emitter_id: str,
    scrub: Scrubber | None = None,
    max_event_bytes: int = 900_000,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The error event for ``failed``, at most ``max_event_bytes`` once JSON-encoded."""
    scrub = scrub or Scrubber()
    found = _raw_fields(failed.raw)
    created = utc_iso(now)
    meta: dict[str, Any] = {"stream": stream, "dt": created, "id": str(uuid.uuid4())}
    if "domain" in found:
        meta["domain"] = found["domain"]
    message = str(failed.error) or type(failed.error).__name__
    event: dict[str, Any] = {
        "$schema": SCHEMA_URI,
        "meta": meta,
        "dt": created,
        "emitter_id": emitter_id,
        "error_type": type(failed.error).__name__,
        "message": _utf8(_clip(scrub(message), MAX_MESSAGE_CHARS)),
        "raw_event": encode_raw_event(failed.raw),
        "stack": _utf8(_clip(scrub("".join(traceback.format_exception(failed.error))), MAX_STACK_CHARS)),
    }
    stream_name = failed.errored_stream_name or found.get("stream")
    schema_uri = failed.errored_schema_uri or found.get("schema")
    if stream_name:
        event["errored_stream_name"] = stream_name
    if schema_uri:
        event["errored_schema_uri"] = schema_uri
    return _fit(event, failed, max_event_bytes)


def _fit(event: dict[str, Any], failed: FailedMessage, max_event_bytes: int) -> dict[str, Any]:
    """Cut the raw bytes until the encoded event fits, and say so in ``message``."""
    size = len(json_bytes(event))
    if size <= max_event_bytes:
        return event
    original = event["message"]
    utf8 = _is_utf8(failed.raw)
    keep = len(failed.raw)
    while size > max_event_bytes and keep > 0:
        keep = max(0, int(keep * max_event_bytes / size) - 1024)
        prefix = failed.raw[:keep]
        if utf8:  # a cut inside a character must not turn valid text into base64
            prefix = prefix.decode("utf-8", "ignore").encode("utf-8")
        where = f"; read the whole message at {failed.source}" if failed.source else ""
        event["raw_event"] = encode_raw_event(prefix)
        event["message"] = f"{original} [raw_event truncated: {len(prefix)} of {len(failed.raw)} bytes kept{where}]"
        size = len(json_bytes(event))
    return event


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class ErrorEventSink(Sink[FailedMessage]):
    """Produces error events to the error topic through ``producer``.

    ``secrets``: every credential the process knows (Kafka, MariaDB, Elasticsearch, Redis
    passwords, API keys); they are scrubbed from message and stack. The event is built when the
    failure is added, so the stack is the one of that moment and a retried flush sends the same bytes.
    """

    name = "error_events"

    def __init__(
        self,
        producer: Producer,
        topic: str,
        *,
        emitter_id: str,
        stream: str | None = None,
        secrets: Iterable[str | None] = (),
        max_event_bytes: int = 900_000,
        timeout: float = 30.0,
    ) -> None:
        self.producer = producer
        self.topic = topic
        self.stream = stream or topic
        self.emitter_id = emitter_id
        self.scrub = Scrubber(secrets)
        self.max_event_bytes = max_event_bytes
        self.timeout = timeout
        self._buffer: list[tuple[bytes | None, bytes]] = []

    def add(self, item: FailedMessage) -> None:
        event = build_error_event(
            item, stream=self.stream, emitter_id=self.emitter_id, scrub=self.scrub, max_event_bytes=self.max_event_bytes
        )
        self._buffer.append((item.key, json_bytes(event)))

    def report(self, raw: bytes, error: BaseException, **source: Any) -> None:
        """Buffer an error event for ``raw`` (``source``: FailedMessage's optional fields)."""
        self.add(FailedMessage(raw, error, **source))

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def flush(self) -> FlushResult:
        started = time.monotonic()
        batch = list(self._buffer)
        if batch:
            deliver(self.producer, self.topic, batch, self.timeout)
            del self._buffer[: len(batch)]
        return self._timed(self.name, len(batch), started, {"errors": len(batch)})

    def discard(self) -> None:
        self._buffer.clear()
