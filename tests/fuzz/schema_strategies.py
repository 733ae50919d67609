"""Hypothesis strategies derived from a JSON schema (the subset Wikimedia's event schemas use).

Why not hypothesis-jsonschema: its last release (0.23.1, 2024) fails on current Hypothesis
(``AttributeError: 'many' object has no attribute 'more'`` while drawing any object schema), so
this module walks the schema itself. Supported: ``type`` object/string/integer/boolean/array,
``properties``, ``required``, ``additionalProperties`` (false or a schema: a map), ``items``,
``enum``, ``minimum``/``maximum``, ``minLength``/``maxLength`` and ``format: date-time``.
Anything else raises, so a schema change cannot silently generate the wrong thing.

``overrides`` maps a dotted path (``page.namespace_id``; for a map, ``<key>`` its keys and ``*`` its
values: ``revision.content_slots.*.content_model``) to a strategy
that replaces the derived one; it must draw values the schema allows (tests/fuzz/test_page_change_cases.py
checks every generated valid event against the schema with ``jsonschema``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

SUPPORTED_KEYS = {
    "type", "properties", "required", "additionalProperties", "items", "enum", "minimum", "maximum",
    "minLength", "maxLength", "format",
    # annotations only
    "title", "description", "$id", "$schema", "examples", "default", "definitions",
}
# JSON's safe integer range, the schemas' own bound for ids.
MAX_SAFE_INT = 2**53 - 1


def date_times(low: datetime = datetime(1, 1, 2, tzinfo=UTC), high: datetime = datetime(9999, 12, 30, tzinfo=UTC)
               ) -> st.SearchStrategy[str]:
    """RFC 3339 ``date-time`` strings (the schema's ``format``) between ``low`` and ``high``: ``Z`` or
    a numeric offset, 0-9 fraction digits, ``T`` or ``t``. Never a leap second (``:60``): MediaWiki
    timestamps have none, and pydantic rejects them (see the fuzz README)."""
    offsets = st.one_of(st.just(None), st.integers(-23 * 60 - 59, 23 * 60 + 59))
    moments = st.datetimes(min_value=low.replace(tzinfo=None), max_value=high.replace(tzinfo=None))

    def render(moment: datetime, offset: int | None, digits: int, separator: str) -> str:
        # The drawn moment is the local wall time; low/high keep a day away from year 1 and 9999, so
        # the UTC instant of any offset stays representable.
        text = f"{moment.year:04d}-{moment:%m-%d}{separator}{moment:%H:%M:%S}"
        if digits:
            text += "." + f"{moment.microsecond:06d}{moment.microsecond % 1000:03d}"[:digits]
        if offset is None:
            return text + "Z"
        sign = "+" if offset >= 0 else "-"
        return f"{text}{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"

    return st.builds(render, moments, offsets, st.integers(0, 9), st.sampled_from("Tt"))


def from_schema(schema: dict[str, Any], overrides: dict[str, st.SearchStrategy[Any]] | None = None,
                *, date_time: st.SearchStrategy[str] | None = None, text_max: int = 40) -> st.SearchStrategy[Any]:
    """A strategy drawing instances of ``schema`` (see the module docstring)."""
    return _node(schema, "", overrides or {}, date_times() if date_time is None else date_time, text_max)


def _node(schema: dict[str, Any], path: str, overrides: dict[str, st.SearchStrategy[Any]],
          date_time: st.SearchStrategy[str], text_max: int) -> st.SearchStrategy[Any]:
    if path in overrides:
        return overrides[path]
    unknown = set(schema) - SUPPORTED_KEYS
    if unknown:
        raise NotImplementedError(f"{path or '(root)'}: unsupported schema keywords {sorted(unknown)}")
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        if schema.get("format") == "date-time":
            return date_time.filter(lambda s: len(s) <= schema.get("maxLength", 128))
        if "format" in schema:  # uri-reference: any short string without spaces is one
            return st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=text_max)
        low = schema.get("minLength", 0)
        return st.text(min_size=low, max_size=max(low, min(schema.get("maxLength", text_max), text_max)))
    if kind == "integer":
        return st.integers(schema.get("minimum", -MAX_SAFE_INT), schema.get("maximum", MAX_SAFE_INT))
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(_node(schema["items"], f"{path}[]", overrides, date_time, text_max), max_size=4)
    if kind == "object":
        return _object(schema, path, overrides, date_time, text_max)
    raise NotImplementedError(f"{path or '(root)'}: unsupported type {kind!r}")


def _object(schema: dict[str, Any], path: str, overrides: dict[str, st.SearchStrategy[Any]],
            date_time: st.SearchStrategy[str], text_max: int) -> st.SearchStrategy[dict[str, Any]]:
    def child(name: str) -> str:
        return f"{path}.{name}" if path else name

    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))
    fields = {name: _node(sub, child(name), overrides, date_time, text_max) for name, sub in properties.items()}
    optional = {name: strategy for name, strategy in fields.items() if name not in required}
    fixed = st.fixed_dictionaries({name: fields[name] for name in properties if name in required},
                                  optional=optional)
    extra = schema.get("additionalProperties", True)
    if properties or extra is False:
        return fixed
    values = _node(extra, child("*"), overrides, date_time, text_max) if isinstance(extra, dict) else st.none()
    return st.dictionaries(overrides.get(child("<key>"), st.text(max_size=12)), values, max_size=3)
