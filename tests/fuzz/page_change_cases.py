"""Labelled fuzz inputs for the source topic: generated ``mediawiki/page/change`` events, valid or
made invalid on purpose, as the exact bytes a Kafka message would carry.

Valid events are drawn from the schema (tests/data/schemas/mediawiki.page.change.1.2.0.yaml, see its
ATTRIBUTION.md) through ``schema_strategies.from_schema``, narrowed only where random values would
never reach the interesting code: the wiki is often the enabled one, the namespace often 0, the
main slot often wikitext with a body, ``meta.domain`` sometimes ``canary``. Bodies include text
that is not wikitext (JSON, binary bytes read as Latin-1, control characters), and a few events
carry huge fields (comment, title, body of 0.3-2.1 MB).

An event is **invalid** when it breaks what the consumer's event model requires (stream/core/events.py):
not JSON, not UTF-8, not an object, a required field missing, a field the consumer reads with the
wrong JSON type or outside the schema's bounds, another schema than ``/mediawiki/page/change/1.x``.
The consumer deliberately does NOT reject what it does not read (unknown fields, schema violations
inside ``performer`` and other unread entities) nor ``null`` for an optional field it reads (read
as absent); the mutations below therefore stay within the fields the model reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from schema_strategies import MAX_SAFE_INT, date_times, from_schema

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "data" / "schemas" / "mediawiki.page.change.1.2.0.yaml"
SCHEMA_URIS = tuple(f"/mediawiki/page/change/1.{minor}.0" for minor in range(12))
UNKNOWN_WIKIS = ("enwiki", "dewiki", "wikidatawiki", "commonswiki", "testwiki")
CONTENT_MODELS = ("wikitext", "json", "css", "javascript", "wikibase-item", "Scribunto", "sanitized-css", "text")
MAX_MEDIAWIKI_ID = 2**32 - 1
HUGE_CHARS = (300_000, 1_200_000, 2_100_000)  # the last is over scoring.recommend.MAX_WIKITEXT_CHARS

# Fields the event model reads, with the JSON type it requires; "?" marks optional ones.
READ_FIELDS: dict[str, str] = {
    "$schema": "string", "meta": "object", "meta.stream": "string", "meta.domain": "string?",
    "meta.dt": "string?", "meta.id": "string?", "meta.request_id": "string?", "dt": "string",
    "wiki_id": "string", "changelog_kind": "string", "page_change_kind": "string", "comment": "string?",
    "page": "object", "page.page_id": "integer", "page.page_title": "string", "page.namespace_id": "integer?",
    "page.is_redirect": "boolean?", "revision": "object", "revision.rev_id": "integer",
    "revision.rev_dt": "string", "revision.rev_parent_id": "integer?", "revision.is_content_visible": "boolean?",
    "revision.content_slots": "object?", "prior_state": "object?", "created_redirect_page": "object?",
}
REQUIRED_FIELDS = tuple(path for path, kind in READ_FIELDS.items() if not kind.endswith("?")
                        and path not in ("meta", "page", "revision")) + ("meta", "page", "revision")
SAMPLES = {"string": "12", "integer": 12, "number": 1.5, "boolean": True, "array": [], "object": {}, "null": None}
OUT_OF_BOUNDS: tuple[tuple[str, Any], ...] = (
    ("page.page_id", -1), ("page.page_id", MAX_SAFE_INT + 1), ("revision.rev_id", -1),
    ("page.namespace_id", -1), ("page.page_title", ""), ("wiki_id", ""), ("meta.stream", ""),
    ("changelog_kind", "upsert"), ("page_change_kind", "purge"), ("dt", "2021-13-01T00:00:00Z"),
    ("dt", "yesterday"), ("revision.rev_dt", "2021-01-01T00:00:00"),  # no offset: not RFC 3339
    ("dt", "2021-01-01T25:00:00Z"), ("$schema", "/mediawiki/revision/create/2.0.0"),
    ("$schema", "/mediawiki/page/change/2.0.0"), ("$schema", "mediawiki/page/change/1.2.0"),
)
BAD_UTF8 = (b"\xff", b"\xc3\x28", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\xe2\x82")


@dataclass(frozen=True)
class Case:
    """One source message: ``raw`` (None = a Kafka tombstone) and whether it is an invalid event."""

    raw: bytes | None
    key: bytes | None
    invalid: bool
    kind: str

    @property
    def value(self) -> bytes:
        """What the consumer sees (a tombstone's value reads as empty bytes)."""
        return self.raw or b""


@cache
def schema() -> dict[str, Any]:
    return yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))


def content_bodies() -> st.SearchStrategy[str]:
    """Small main-slot bodies: wikitext-ish, any text, JSON, binary read as Latin-1, control characters."""
    snippets = st.sampled_from(["[[Αθήνα]]", "{{Infobox|a=b}}", "<ref>x</ref>", "'''b'''", "\n== Ενότητα ==\n",
                                "{|\n|a\n|}", "[[Файл:x.jpg|thumb]]", "Việt Nam ", "日本語の文。", "मराठी। ", "[[", "{{"])
    wikitextish = st.lists(st.one_of(snippets, st.text(max_size=30)), max_size=12).map("".join)
    as_json = st.dictionaries(st.text(max_size=8), st.integers(), max_size=4).map(json.dumps)
    binary = st.binary(max_size=200).map(lambda b: b.decode("latin-1"))
    controls = st.text(st.characters(max_codepoint=0x1F), max_size=50)
    return st.one_of(wikitextish, st.text(max_size=200), as_json, binary, controls)


@cache
def valid_events(enabled_wiki: str, *, past_only: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """Schema-valid page/change events (dicts). ``past_only``: every date-time between 2001 and 2025,
    so that a worker never holds an item for a far-future quiet period (see the fuzz README)."""
    dates = date_times(datetime(2001, 1, 15, tzinfo=UTC), datetime(2025, 12, 31, tzinfo=UTC)) if past_only else None
    slot = "revision.content_slots"
    overrides: dict[str, st.SearchStrategy[Any]] = {
        "$schema": st.sampled_from(SCHEMA_URIS),
        "wiki_id": st.one_of(st.just(enabled_wiki), st.sampled_from(UNKNOWN_WIKIS), st.text(min_size=1, max_size=20)),
        "meta.domain": st.one_of(st.just("canary"), st.just("el.wikipedia.org"), st.text(min_size=1, max_size=30)),
        # MediaWiki's page_id/rev_id columns (and GrowthExperiments' gelr_page/gelr_revision) are INT
        # UNSIGNED, ids start at 1; the schema's bound (2^53 - 1) is JSON's. See the fuzz README.
        "page.page_id": st.integers(1, MAX_MEDIAWIKI_ID),
        "revision.rev_id": st.integers(1, MAX_MEDIAWIKI_ID),
        "page.namespace_id": st.one_of(st.just(0), st.sampled_from([1, 2, 4, 10, 14, 118]),
                                       st.integers(0, MAX_SAFE_INT)),
        f"{slot}.<key>": st.one_of(st.just("main"), st.just("mediainfo"), st.text(max_size=8)),
        f"{slot}.*.content_model": st.one_of(st.just("wikitext"), st.sampled_from(CONTENT_MODELS), st.text(max_size=12)),
        f"{slot}.*.content_body": content_bodies(),
    }
    return from_schema(schema(), overrides, date_time=dates)


def _set(event: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = event
    for name in parents:
        if not isinstance(node.get(name), dict):
            node[name] = {}
        node = node[name]
    node[leaf] = value


def _drop(event: dict[str, Any], path: str) -> None:
    *parents, leaf = path.split(".")
    node = event
    for name in parents:
        node = node[name]
    node.pop(leaf, None)


def _copy(event: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(event))


@cache
def encodings() -> st.SearchStrategy[Any]:
    """How a producer may serialise: compact UTF-8 (EventGate), ASCII escapes, pretty-printed."""
    return st.sampled_from([
        lambda e: json.dumps(e, ensure_ascii=False, separators=(",", ":")).encode(),
        lambda e: json.dumps(e).encode(),
        lambda e: json.dumps(e, ensure_ascii=False, indent=2).encode(),
    ])


def _key(event: Any) -> bytes | None:
    try:
        return json.dumps({"wiki_id": event["wiki_id"], "page_id": event["page"]["page_id"]},
                          separators=(",", ":"), ensure_ascii=False).encode()
    except (KeyError, TypeError):
        return None


@st.composite
def cases(draw: st.DrawFn, enabled_wiki: str = "elwiki", *, past_only: bool = False) -> Case:
    """One labelled source message (about a third of them invalid, a few per thousand huge)."""
    kind = draw(st.sampled_from(["valid"] * 12 + ["huge_valid"] + ["missing", "wrong_type", "out_of_bounds",
                                 "truncated", "bad_utf8", "not_an_object", "garbage", "deep", "huge_invalid"])
                 if draw(st.integers(0, 499)) == 0 else
                 st.sampled_from(["valid"] * 12 + ["missing", "wrong_type", "out_of_bounds", "truncated",
                                  "bad_utf8", "not_an_object", "garbage", "deep"]))
    if kind == "garbage":  # random bytes, empty messages, tombstones: never an object with the required fields
        raw_value = draw(st.one_of(st.binary(max_size=300), st.just(b""), st.none()))
        return Case(raw_value, draw(st.one_of(st.none(), st.binary(max_size=20))), True, kind)
    if kind == "deep":
        depth = draw(st.integers(201, 5_000))
        return Case(draw(st.sampled_from([b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth])),
                    None, True, kind)
    event = draw(valid_events(enabled_wiki, past_only=past_only))
    encode = draw(encodings())
    if kind == "valid":
        return Case(encode(event), _key(event), False, kind)
    if kind in ("huge_valid", "huge_invalid"):
        field = draw(st.sampled_from(["comment", "page.page_title", "revision.content_slots.main.content_body"]))
        _set(event, field, draw(st.sampled_from("xΩ日।")) * draw(st.sampled_from(HUGE_CHARS)))
        if field.endswith("content_body"):
            _set(event, "revision.content_slots.main.content_model", "wikitext")
        if kind == "huge_invalid":
            _set(event, "page.page_id", "not a number")
        return Case(encode(event), _key(event), kind == "huge_invalid", f"{kind}:{field}")
    if kind == "missing":
        path = draw(st.sampled_from(REQUIRED_FIELDS))
        _drop(event, path)
        return Case(encode(event), _key(event), True, f"missing:{path}")
    if kind == "wrong_type":
        path = draw(st.sampled_from(sorted(READ_FIELDS)))
        expected = READ_FIELDS[path].rstrip("?")
        wrong = [t for t in SAMPLES if t != expected and not (t == "null" and READ_FIELDS[path].endswith("?"))]
        _set(event, path, SAMPLES[draw(st.sampled_from(wrong))])
        return Case(encode(event), _key(event), True, f"wrong_type:{path}")
    if kind == "out_of_bounds":
        path, value = draw(st.sampled_from(OUT_OF_BOUNDS))
        _set(event, path, value)
        return Case(encode(event), _key(event), True, f"out_of_bounds:{path}")
    raw = encode(event)
    if kind == "truncated":  # a proper prefix of a JSON object never closes it
        return Case(raw[: draw(st.integers(0, len(raw) - 1))], _key(event), True, kind)
    if kind == "bad_utf8":
        quotes = [i for i, byte in enumerate(raw) if byte == ord('"')]
        at = draw(st.sampled_from(quotes)) + 1
        return Case(raw[:at] + draw(st.sampled_from(BAD_UTF8)) + raw[at:], _key(event), True, kind)
    # not_an_object
    value = draw(st.one_of(st.sampled_from([None, True, 42, -1.5, "event", []]), st.just([event])))
    return Case(json.dumps(value).encode(), None, True, kind)
