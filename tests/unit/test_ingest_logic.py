"""Ingest decisions on real event shapes, with in-memory stand-ins for Redis, MariaDB and the sinks."""

from __future__ import annotations

import json

import pytest

from pipeline_fakes import FakePageState, FakeStore, RecordingErrors, fake_tag_sink
from sinks.base import TagAction
from stream.ops.backfill import page_change_event
from stream.config import Settings, WikiSettings
from stream.core.events import SourceMessage, parse_work_item
from stream.pipeline.ingest import IngestHandler
from stream.observe.metrics import OutcomeTally

WIKI = "elwiki"


class RecordingWork:
    name = "work_topic"

    def __init__(self) -> None:
        self.items = []

    def add(self, item) -> None:
        parse_work_item(item.to_json())  # what goes on the topic must parse back
        self.items.append(item)


class RecordingContent:
    def __init__(self, text: str | None) -> None:
        self.text = text
        self.asked: list[int] = []

    def fetch(self, *, wiki_id: str, domain: str | None, rev_id: int) -> str | None:
        self.asked.append(rev_id)
        return self.text


class Harness:
    def __init__(self, content_text: str | None = None) -> None:
        self.settings = Settings(wikis={WIKI: WikiSettings(language="el")})
        self.state = FakePageState()
        self.store = FakeStore()
        self.tags = fake_tag_sink(self.store.fence_reader)
        self.work = RecordingWork()
        self.errors = RecordingErrors()
        self.tally = OutcomeTally()
        self.content = RecordingContent(content_text)
        self.handler = IngestHandler(settings=self.settings, state=self.state, store=self.store, tags=self.tags,
                                     work=self.work, errors=self.errors, content=self.content, sensor=self.tally)
        self.offset = 0

    def send(self, raw: bytes | dict, topic: str = "eqiad.mediawiki.page_content_change.v1") -> None:
        value = raw if isinstance(raw, bytes) else json.dumps(raw).encode()
        self.offset += 1
        self.handler.handle(SourceMessage(topic, 0, self.offset, None, value, 1_700_000_000_000))
        self.store.flush()
        self.tags.flush()

    def dropped(self) -> dict[str, int]:
        return self.tally.summary()["dropped"]


def event(kind: str = "edit", rev_id: int = 100, page_id: int = 7, text: str | None = "Κείμενο [[Αθήνα]].", **extra):
    return page_change_event(wiki_id=extra.pop("wiki_id", WIKI), domain="el.wikipedia.org", page_id=page_id,
                             title=extra.pop("title", "Δοκιμή"), rev_id=rev_id, rev_dt="2024-05-01T10:00:00Z",
                             kind=kind, text=text, **extra)


def stored_row(h: Harness, rev_id: int, page_id: int = 7, data: bytes | None = b"{}") -> None:
    h.store.replace(WIKI, page_id, rev_id, data)
    h.store.flush()
    h.tags.set_link_tag(WIKI, page_id)
    h.tags.flush()


def test_an_edit_invalidates_older_rows_at_once_and_forwards_the_text() -> None:
    h = Harness()
    stored_row(h, 90)
    h.send(event(rev_id=100))
    assert h.store.page_rows(WIKI, 7) == {}, "row of the older revision deleted"
    assert not h.tags.is_set(WIKI, 7)
    assert h.tags.changes[-1].rev_based, "an edit's clear is revision based, like GrowthExperiments'"
    (item,) = h.work.items
    assert (item.rev_id, item.page_change_kind, item.wikitext) == (100, "edit", "Κείμενο [[Αθήνα]].")
    assert h.state.page(WIKI, 7).rev_id == 100


def test_a_duplicate_of_the_stored_revision_keeps_its_row_and_tag() -> None:
    h = Harness()
    h.state.record_revision(WIKI, 7, 100)
    stored_row(h, 100)
    h.send(event(rev_id=100))
    assert h.store.page_rows(WIKI, 7) == {100: b"{}"}
    assert h.tags.is_set(WIKI, 7)
    assert len(h.work.items) == 1, "forwarded again: the worker re-checks (already_stored) and re-sets the tag"


def test_a_stale_event_changes_nothing() -> None:
    h = Harness()
    h.send(event(rev_id=100))
    h.send(event(rev_id=99))
    assert [i.rev_id for i in h.work.items] == [100]
    assert h.dropped() == {"stale": 1}


def test_a_stale_event_after_redis_lost_its_state_is_stopped_by_the_stored_rows() -> None:
    h = Harness()
    h.send(event(rev_id=100))
    stored_row(h, 100)
    h.state.forget_everything()
    h.send(event(rev_id=99))
    assert h.store.page_rows(WIKI, 7) == {100: b"{}"}, "the newer row survives"
    assert h.tags.is_set(WIKI, 7)
    assert [i.rev_id for i in h.work.items] == [100]


@pytest.mark.parametrize(("kind", "extra", "removal"), [
    ("delete", {"text": None}, "delete"),
    ("visibility_change", {"text": None, "content_visible": False}, "content_hidden"),
    ("move", {"namespace_id": 2, "prior_title": "Δοκιμή", "prior_namespace_id": 0}, "moved_out"),
])
def test_removals_delete_every_row_clear_the_tag_and_forward_a_removal_item(kind, extra, removal) -> None:
    h = Harness()
    h.send(event(rev_id=100))
    stored_row(h, 100)
    h.send(event(kind=kind, rev_id=100 if kind != "move" else 101, **extra))
    assert h.store.page_rows(WIKI, 7) == {}
    assert not h.tags.is_set(WIKI, 7)
    assert h.tally.summary()["invalidations"].get(removal) == 1
    removal_item = h.work.items[-1]
    assert removal_item.page_change_kind == kind and removal_item.wikitext is None
    assert h.state.page(WIKI, 7).removed


def test_a_tombstone_stops_a_redelivered_edit_of_the_deleted_revision() -> None:
    h = Harness()
    h.send(event(rev_id=100))
    h.send(event(kind="delete", rev_id=100, text=None))
    h.send(event(rev_id=100))  # the edit event again (redelivery, or the other data centre)
    assert [i.page_change_kind for i in h.work.items] == ["edit", "delete"]
    assert h.dropped() == {"stale": 1}


def test_undelete_lifts_the_tombstone_and_marks_the_title_present() -> None:
    h = Harness()
    h.send(event(rev_id=100))
    h.send(event(kind="delete", rev_id=100, text=None))
    assert h.state.titles("elwiki", ["Δοκιμή"])["Δοκιμή"].gone
    h.send(event(kind="undelete", rev_id=100))
    assert [i.page_change_kind for i in h.work.items] == ["edit", "delete", "undelete"]
    assert not h.state.titles("elwiki", ["Δοκιμή"])["Δοκιμή"].gone
    assert not h.state.page(WIKI, 7).removed


def test_a_move_without_redirect_marks_the_old_title_gone_and_is_a_new_revision() -> None:
    h = Harness()
    h.send(event(rev_id=100))
    h.send(event(kind="move", rev_id=101, title="Νέος τίτλος", prior_title="Δοκιμή"))
    assert h.state.titles("elwiki", ["Δοκιμή"])["Δοκιμή"].gone
    assert h.work.items[-1].page_change_kind == "move" and h.work.items[-1].wikitext is not None


def test_canaries_other_wikis_and_other_namespaces_are_dropped_without_writes() -> None:
    h = Harness()
    canary = event()
    canary["meta"]["domain"] = "canary"
    h.send(canary)
    h.send(event(wiki_id="frwiki"))
    h.send(event(namespace_id=4))
    assert h.work.items == [] and h.store.ops == [] and h.tags.changes == []
    assert h.dropped() == {"canary": 1, "wiki_not_enabled": 1, "not_content_namespace": 1}


@pytest.mark.parametrize("raw", [b"not json", b'{"$schema": "/mediawiki/page/change/1.0.0"}', b"\xff\xfe"])
def test_an_invalid_event_goes_to_the_error_topic_with_its_raw_bytes(raw) -> None:
    h = Harness()
    h.send(raw)
    ((reported, error, source),) = h.errors.reports
    assert reported == raw and type(error).__name__ == "InvalidEvent"
    assert source["offset"] == 1 and source["topic"].endswith("page_content_change.v1")
    assert h.work.items == []


@pytest.mark.parametrize(("page_id", "rev_id"), [(0, 100), (7, 0), (2**32, 100), (7, 5_000_000_000)])
def test_ids_that_do_not_fit_growthexperiments_columns_go_to_the_error_topic(page_id, rev_id) -> None:
    h = Harness()
    raw = json.dumps(event(page_id=page_id, rev_id=rev_id)).encode()
    h.send(raw)
    ((reported, error, _source),) = h.errors.reports
    assert reported == raw and type(error).__name__ == "InvalidEvent" and "INT UNSIGNED" in str(error)
    assert h.work.items == [] and h.store.ops == [] and h.tags.changes == []


def test_page_change_events_without_text_use_the_content_source() -> None:
    h = Harness(content_text="Από το API.")
    h.send(event(text=None, stream="mediawiki.page_change.v1"), topic="eqiad.mediawiki.page_change.v1")
    assert h.content.asked == [100]
    assert h.work.items[0].wikitext == "Από το API."


def test_missing_content_is_forwarded_without_text_not_an_error() -> None:
    h = Harness(content_text=None)
    h.send(event(text=None))
    assert h.errors.reports == []
    assert h.work.items[0].wikitext is None, "the worker counts it as 'other' (content not found)"


def test_a_redirect_revision_still_invalidates_and_forwards() -> None:
    h = Harness()
    h.send(event(rev_id=100))
    stored_row(h, 100)
    h.send(event(rev_id=101, is_redirect=True, text="#REDIRECT [[Άλλη]]"))
    assert h.store.page_rows(WIKI, 7) == {}
    assert h.work.items[-1].is_redirect


def test_tag_changes_carry_what_the_event_sink_needs() -> None:
    h = Harness()
    h.send(event(rev_id=100))
    change = h.tags.changes[-1]
    assert change.action is TagAction.CLEAR
    assert (change.page_title, change.domain, change.namespace_id) == ("Δοκιμή", "el.wikipedia.org", 0)


def test_a_page_creation_has_nothing_to_invalidate() -> None:
    h = Harness()
    h.send(event(kind="create", rev_id=100))
    assert h.store.ops == [] and h.tags.changes == []
    assert len(h.work.items) == 1


def test_a_poll_batch_reads_its_stored_revisions_at_once_and_handles_each_event_as_alone() -> None:
    h = Harness()
    stored_row(h, 90)
    raw = [event(rev_id=100), event(rev_id=101, page_id=8), event(wiki_id="xxwiki", page_id=9),
           event(page_id=0), b"not json"]
    messages = [SourceMessage("eqiad.mediawiki.page_content_change.v1", 0, offset, None,
                              value if isinstance(value, bytes) else json.dumps(value).encode(), 1_700_000_000_000)
                for offset, value in enumerate(raw, start=1)]
    h.handler.prepare(messages)
    assert h.store.prefetched == [{WIKI: ([7, 8], ())}], "one read for the enabled wiki; bad ids left to handle"
    for message in messages:
        h.handler.handle(message)
    h.handler.prepare([])
    h.store.flush()
    h.tags.flush()
    assert [(item.page_id, item.rev_id) for item in h.work.items] == [(7, 100), (8, 101)]
    assert h.store.rows == {}, "the older row of page 7 was invalidated"
    assert len(h.errors.reports) == 2, "the page id 0 and the bytes that are no event"
