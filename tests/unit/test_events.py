"""stream.core.events on real recorded events (tests/data/events, see ATTRIBUTION.md)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from stream.core.events import (
    InvalidEvent,
    SourceMessage,
    WorkItem,
    content_body,
    decode_key,
    encode_key,
    is_canary,
    missing_content_reason,
    parse_event,
    parse_work_item,
    titles_created,
    titles_gone,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "events"


def schema_example() -> dict[str, Any]:
    return json.loads((DATA / "mediawiki.page.change.examples.jsonl").read_text(encoding="utf-8").splitlines()[0])


def recorded_move() -> dict[str, Any]:
    """A real enwiki move event (page/change 1.2.0) as recorded by wmf-event-stream-sdk-go."""
    return json.loads((DATA / "wme-sdk-go" / "page-change.json").read_text(encoding="utf-8"))[0]


def content_change(**changes: Any) -> dict[str, Any]:
    """The recorded move turned into a page_content_change edit carrying wikitext."""
    event = recorded_move()
    event.update(page_change_kind="edit", changelog_kind="update")
    event.pop("created_redirect_page")
    event["meta"]["stream"] = "mediawiki.page_content_change.v1"
    event["revision"]["content_slots"]["main"]["content_body"] = "'''Varvara Prohorova''' is a [[Russia]]n ..."
    event.update(changes)
    return event


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode()


# --- valid events ------------------------------------------------------------------------------


def test_schema_example_parses() -> None:
    event = parse_event(encode(schema_example()))
    assert (event.wiki_id, event.page_change_kind, event.changelog_kind) == ("example", "edit", "update")
    assert (event.page.page_id, event.page.page_title, event.page.namespace_id, event.page.is_redirect) == (1, "example", 1, True)
    assert event.revision.rev_id == 2 and event.revision.rev_parent_id == 1
    assert event.revision.rev_dt == datetime(2021, 1, 1, tzinfo=UTC)
    assert event.main_slot is not None and event.main_slot.content_model == "wikitext"
    assert not is_canary(event)


def test_recorded_move_parses_with_its_prior_state() -> None:
    event = parse_event(encode(recorded_move()))
    assert event.page_change_kind == "move" and event.wiki_id == "enwiki"
    assert event.page.page_title == "Varvara_Prohorova" and event.page.namespace_id == 0
    assert event.prior_state is not None and event.prior_state.page is not None
    assert (event.prior_state.page.page_title, event.prior_state.page.namespace_id) == ("Draft:Varvara_Prohorova", 118)
    assert event.created_redirect_page is not None and event.created_redirect_page.page_id == 77849657
    assert event.meta.domain == "en.wikipedia.org" and event.meta.id == "407f0254-d175-4fab-a299-a513498cbe31"


def test_fields_of_newer_1x_versions_and_unknown_fields_are_tolerated() -> None:
    event = content_change()
    event["$schema"] = "/mediawiki/page/change/1.11.0"
    event["page"] |= {"namespace_is_content": True, "wikibase_item_id": "Q42"}
    event["performer"] |= {"user_central_id": 7, "wiki_id": "enwiki", "edit_global_count": 12}
    event["revision"]["revert"] = {
        "method": "undo",
        "is_exact": True,
        "rev_original_id": 100,
        "rev_original_dt": "2024-09-01T00:00:00Z",
        "rev_reverted_oldest_id": 101,
        "rev_reverted_newest_id": 105,
    }
    event["something_from_2030"] = {"nested": [1, 2, 3]}
    parsed = parse_event(encode(event))
    assert parsed.schema_uri == "/mediawiki/page/change/1.11.0"
    assert parsed.revision.revert is not None and parsed.revision.revert.reverted_range == (101, 105)


@pytest.mark.parametrize(
    ("kind", "changelog"),
    [("create", "insert"), ("edit", "update"), ("move", "update"), ("delete", "delete"),
     ("undelete", "insert"), ("visibility_change", "update")],
)
def test_every_page_change_kind_is_accepted(kind: str, changelog: str) -> None:
    event = parse_event(encode(content_change(page_change_kind=kind, changelog_kind=changelog)))
    assert (event.page_change_kind, event.changelog_kind) == (kind, changelog)


def test_canary_events_are_recognised() -> None:
    event = content_change()
    event["meta"]["domain"] = "canary"
    assert is_canary(parse_event(encode(event)))


def test_revision_ids_beyond_32_bits_are_accepted() -> None:
    event = content_change()
    event["revision"]["rev_id"] = 5_000_000_000  # as in wme-sdk-go's page-change-large-revid.json
    assert parse_event(encode(event)).revision.rev_id == 5_000_000_000


# --- content ------------------------------------------------------------------------------------


def test_content_body_of_an_enriched_event() -> None:
    event = parse_event(encode(content_change()))
    assert content_body(event) == "'''Varvara Prohorova''' is a [[Russia]]n ..."
    assert missing_content_reason(event) is None


def hidden(event: dict[str, Any]) -> dict[str, Any]:
    event["revision"]["is_content_visible"] = False
    return event


def json_model(event: dict[str, Any]) -> dict[str, Any]:
    event["revision"]["content_slots"]["main"]["content_model"] = "json"
    return event


def no_slots(event: dict[str, Any]) -> dict[str, Any]:
    del event["revision"]["content_slots"]
    return event


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (recorded_move(), "no content body (page_change stream or enrichment gap)"),
        (hidden(content_change()), "content hidden"),
        (json_model(content_change()), "content model json, not wikitext"),
        (no_slots(content_change()), "no main slot"),
        (content_change(page_change_kind="delete", changelog_kind="delete"), "page deleted"),
    ],
    ids=["page_change stream", "hidden", "json", "no slots", "delete"],
)
def test_events_without_usable_content_are_valid_and_say_why(event: dict[str, Any], reason: str) -> None:
    parsed = parse_event(encode(event))
    assert content_body(parsed) is None
    assert missing_content_reason(parsed) == reason


# --- invalid events -----------------------------------------------------------------------------


def with_value(path: str, value: Any) -> bytes:
    event = content_change()
    target = event
    *parents, last = path.split(".")
    for key in parents:
        target = target[key]
    target[last] = value
    return encode(event)


def without(path: str) -> bytes:
    event = content_change()
    target = event
    *parents, last = path.split(".")
    for key in parents:
        target = target[key]
    del target[last]
    return encode(event)


def recorded(name: str) -> bytes:
    data = json.loads((DATA / "wme-sdk-go" / name).read_text(encoding="utf-8"))
    record = data[0] if isinstance(data, list) else data
    return encode(record["data"])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"$schema": "/mediawiki/page/change/1.2.0", ', "Invalid JSON"),
        (b"\xff\xfe not utf-8", "Invalid JSON"),
        (b"[1, 2]", "(event): Input should be an object"),
        (with_value("page.page_id", "77777155"), "page.page_id: Input should be a valid integer"),
        (with_value("revision.rev_id", 1.5), "revision.rev_id: Input should be a valid integer"),
        (with_value("page.is_redirect", "false"), "page.is_redirect: Input should be a valid boolean"),
        (with_value("dt", "yesterday"), "dt: Input should be a valid datetime"),
        (with_value("dt", "2024-09-12T06:58:34"), "dt: Input should have timezone info"),
        (with_value("page_change_kind", "protect"), "page_change_kind: Input should be 'create', 'edit'"),
        (with_value("revision.content_slots.main.content_body", 42), "revision.content_slots.main.content_body: Input should be a valid string"),
        (with_value("$schema", "/mediawiki/revision/create/1.1.0"), "$schema: unsupported schema"),
        (with_value("$schema", "/mediawiki/page/change/2.0.0"), "$schema: unsupported schema"),
        (without("revision.rev_dt"), "revision.rev_dt: Field required"),
        (without("page"), "page: Field required"),
        (without("meta.stream"), "meta.stream: Field required"),
        (recorded("page-change-large-revid.json"), "$schema: Field required"),
        (recorded("page-create.json"), "$schema: unsupported schema"),
        (recorded("page-delete.json"), "$schema: unsupported schema"),
        (recorded("revision-visibility-change.json"), "$schema: unsupported schema"),
    ],
    ids=lambda value: None if isinstance(value, bytes) else value[:40],
)
def test_invalid_events_raise_invalid_event_naming_the_field(raw: bytes, expected: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(raw)
    assert expected in str(caught.value)
    assert str(caught.value).startswith("invalid mediawiki/page/change event: ")


def test_invalid_event_messages_do_not_echo_field_values() -> None:
    article = "Secret article text " * 1000
    event = content_change()
    event["revision"]["content_slots"]["main"]["content_body"] = article
    event["page"]["page_id"] = "not an id"
    with pytest.raises(InvalidEvent) as caught:
        parse_event(encode(event))
    assert "Secret article text" not in str(caught.value) and "not an id" not in str(caught.value)


# --- page titles gone or created -----------------------------------------------------------------


def test_titles_of_a_move_that_left_a_redirect() -> None:
    event = parse_event(encode(recorded_move()))
    assert titles_gone(event) == ()  # the old title is now a redirect page
    assert titles_created(event) == ("Varvara_Prohorova",)


def test_move_without_redirect_makes_the_old_main_namespace_title_gone() -> None:
    event = recorded_move()
    del event["created_redirect_page"]
    event["prior_state"]["page"] = {"page_title": "Varvara_Prohorova_(athlete)", "namespace_id": 0}
    assert titles_gone(parse_event(encode(event))) == ("Varvara_Prohorova_(athlete)",)
    event["prior_state"]["page"] = {"page_title": "Draft:Varvara_Prohorova", "namespace_id": 118}
    assert titles_gone(parse_event(encode(event))) == ()


def test_deleted_main_namespace_pages_are_gone_talk_pages_are_not() -> None:
    event = content_change(page_change_kind="delete", changelog_kind="delete")
    assert titles_gone(parse_event(encode(event))) == ("Varvara_Prohorova",)
    assert titles_created(parse_event(encode(event))) == ()
    event["page"]["namespace_id"] = 1
    assert titles_gone(parse_event(encode(event))) == ()


# --- Kafka keys -----------------------------------------------------------------------------------


def test_message_key_is_byte_for_byte_the_recorded_wikimedia_key() -> None:
    recorded_key = bytes(recorded_move()["meta"]["key"]["data"])
    assert recorded_key == b'{"wiki_id":"enwiki","page_id":77777155}'
    assert encode_key("enwiki", 77777155) == recorded_key
    key = decode_key(recorded_key)
    assert (key.wiki_id, key.page_id) == ("enwiki", 77777155)


@pytest.mark.parametrize("raw", [b"enwiki|1", b'{"wiki_id":"enwiki"}', b'{"wiki_id":"enwiki","page_id":"1"}', b""])
def test_bad_message_keys_are_invalid(raw: bytes) -> None:
    with pytest.raises(InvalidEvent, match="invalid message key"):
        decode_key(raw)


# --- work items ------------------------------------------------------------------------------------


SOURCE = SourceMessage(
    topic="eqiad.mediawiki.page_content_change.v1", partition=0, offset=516188566, key=None, value=b"", timestamp_ms=1
)


def test_work_item_from_an_event_round_trips_through_json() -> None:
    raw = content_change()
    raw["revision"]["revert"] = {"method": "rollback", "rev_reverted_oldest_id": 9, "rev_reverted_newest_id": 11}
    event = parse_event(encode(raw))
    item = WorkItem.from_event(event, SOURCE, include_wikitext=True)
    assert (item.wiki_id, item.page_id, item.rev_id, item.namespace_id) == ("enwiki", 77777155, 1245305770, 0)
    assert item.dt == event.revision.rev_dt and item.event_dt == event.dt
    assert item.domain == "en.wikipedia.org" and item.request_id == "ab8b5b79-a8b2-4f4e-b491-f313864273c1"
    assert item.content_model == "wikitext"
    assert item.wikitext == content_body(event)
    assert (item.source_topic, item.source_partition, item.source_offset) == (SOURCE.topic, 0, 516188566)
    assert item.key() == encode_key("enwiki", 77777155)
    assert parse_work_item(item.to_json()) == item


def test_work_item_without_text_and_with_unknown_fields() -> None:
    item = WorkItem.from_event(parse_event(encode(content_change())), SOURCE, include_wikitext=False)
    assert item.wikitext is None
    payload = json.loads(item.to_json()) | {"added_by_a_newer_ingest": True}
    assert parse_work_item(json.dumps(payload).encode()) == item


def test_removal_items_carry_no_text() -> None:
    event = parse_event(encode(hidden(content_change(page_change_kind="visibility_change"))))
    item = WorkItem.from_event(event, SOURCE, include_wikitext=True)
    assert item.wikitext is None and not item.is_content_visible and item.page_change_kind == "visibility_change"


@pytest.mark.parametrize("raw", [b"{}", b"not json", b'{"format_version": 2}'])
def test_invalid_work_items(raw: bytes) -> None:
    good = json.loads(WorkItem.from_event(parse_event(encode(content_change())), SOURCE, include_wikitext=False).to_json())
    if raw == b'{"format_version": 2}':
        raw = json.dumps(copy.deepcopy(good) | {"format_version": 2}).encode()
    with pytest.raises(InvalidEvent, match="invalid work item"):
        parse_work_item(raw)
