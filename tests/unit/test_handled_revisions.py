"""stream.pipeline.worker.HandledRevisions: the worker's memory of the newest revision it handled per page."""

from __future__ import annotations

from datetime import UTC, datetime

from stream.core.events import WorkItem
from stream.pipeline.worker import HandledRevisions


def item(page_id: int, rev_id: int, wiki_id: str = "elwiki") -> WorkItem:
    when = datetime(2024, 1, 1, tzinfo=UTC)
    return WorkItem(wiki_id=wiki_id, page_id=page_id, page_title="Ροδόπη", rev_id=rev_id, dt=when, event_dt=when,
                    page_change_kind="edit", source_topic="t", source_partition=0, source_offset=0)


def test_an_older_revision_of_a_handled_page_is_superseded_and_the_memory_never_goes_down() -> None:
    handled = HandledRevisions()
    handled.note(item(1, 20))
    handled.note(item(1, 10))  # a stale item handled anyway (e.g. before this fix): 20 stays known
    assert handled.newer_than(item(1, 19))
    assert not handled.newer_than(item(1, 20)), "the same revision again (redelivery, undelete) is not stale"
    assert not handled.newer_than(item(1, 21))
    assert not handled.newer_than(item(2, 1)) and not handled.newer_than(item(1, 1, wiki_id="ukwiki"))


def test_the_least_recently_handled_pages_are_forgotten_beyond_capacity() -> None:
    handled = HandledRevisions(capacity=2)
    handled.note(item(1, 10))
    handled.note(item(2, 10))
    handled.note(item(1, 11))  # page 1 used again: page 2 is now the oldest
    handled.note(item(3, 10))
    assert handled.newer_than(item(1, 5)) and handled.newer_than(item(3, 5))
    assert not handled.newer_than(item(2, 5)), "forgotten: the stores decide again"
