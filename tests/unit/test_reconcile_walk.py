"""stream.ops.reconciler with in-memory stores: the batched walk, confirmation, repair and read-back."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import pytest

from sinks.base import FlushResult, TagAction
from stream.ops.drift import Drift
from stream.ops.reconciler import MAX_FIX_ROUNDS, Reconciler
from stream.pipeline.state import PageRecord

WIKI = "elwiki"


class World:
    """Rows, tags and Redis records of one wiki, implementing the three protocols reconcile uses.

    ``on_flush`` / ``on_read`` let a test play the consumer writing in between reconcile's calls.
    """

    def __init__(self) -> None:
        self.rows: dict[int, dict[int, bool]] = {}
        self.tags: set[int] = set()
        self.known: dict[int, PageRecord] = {}
        self.pending: dict[int, TagAction] = {}
        self.on_flush: Callable[[], None] = lambda: None
        self.on_read: Callable[[Sequence[int]], None] = lambda page_ids: None
        self.writes = 0
        self.row_queries = 0

    # Rows
    def rows_by_page(self, wiki_id: str, *, batch_size: int = 500, after_page_id: int = 0
                     ) -> Iterator[dict[int, dict[int, bool]]]:
        last = after_page_id
        while True:
            ids = sorted(page for page in self.rows if page > last)[:batch_size]
            if ids:
                yield self.page_rows(wiki_id, ids)
            if len(ids) < batch_size:
                return
            last = ids[-1]

    def page_rows(self, wiki_id: str, page_ids: Sequence[int]) -> dict[int, dict[int, bool]]:
        self.row_queries += 1
        return {page: dict(self.rows[page]) for page in page_ids if self.rows.get(page)}

    def delete_revisions(self, wiki_id: str, page_id: int, rev_ids: Sequence[int]) -> int:
        self.writes += 1
        page = self.rows.get(page_id, {})
        deleted = [rev for rev in rev_ids if rev in page]
        for rev in deleted:
            del page[rev]
        return len(deleted)

    # Tags
    def tagged_page_ids(self, wiki_id: str, *, batch_size: int = 1000) -> Iterator[int]:
        yield from sorted(self.tags, reverse=True)  # a scroll has no useful order

    def link_tagged(self, wiki_id: str, page_ids: Sequence[int]) -> frozenset[int]:
        self.on_read(page_ids)
        return frozenset(page for page in page_ids if page in self.tags)

    def set_link_tag(self, wiki_id: str, page_id: int) -> None:
        self.pending[page_id] = TagAction.SET

    def clear_link_tag(self, wiki_id: str, page_id: int) -> None:
        self.pending[page_id] = TagAction.CLEAR

    def flush(self) -> FlushResult:
        self.writes += 1
        for page_id, action in self.pending.items():
            (self.tags.add if action is TagAction.SET else self.tags.discard)(page_id)
        self.pending.clear()
        self.on_flush()
        return FlushResult("fake", 1, 0.0)

    # Pages
    def page(self, wiki: str, page_id: int) -> PageRecord | None:
        return self.known.get(page_id)

    def pages(self, wiki: str, page_ids) -> dict[int, PageRecord | None]:
        return {page_id: self.known.get(page_id) for page_id in page_ids}

    def run(self, *, fix: bool = False, batch_size: int = 3, **options) -> Reconciler:
        return Reconciler(WIKI, self, self, self, fix=fix, batch_size=batch_size, **options)


def planted() -> World:
    world = World()
    for page in range(1, 11):  # ten consistent pages: row + tag of the latest revision
        world.rows[page] = {page * 10: True}
        world.tags.add(page)
        world.known[page] = PageRecord(page * 10, False)
    world.rows[11] = {110: False}  # NULL row, no tag: consistent
    world.tags.update({20, 21})  # tag_without_row x2 (no rows at all; only the tag pass finds them)
    world.rows[30] = {300: True}  # row_without_tag
    world.rows[40] = {400: True}  # stale_row: Redis knows 401
    world.tags.add(40)
    world.known[40] = PageRecord(401, False)
    world.rows[50] = {500: True}  # removed_page_row
    world.tags.add(50)
    world.known[50] = PageRecord(500, True)
    return world


EXPECTED = {Drift.TAG_WITHOUT_ROW: 2, Drift.ROW_WITHOUT_TAG: 1, Drift.STALE_ROW: 1, Drift.REMOVED_PAGE_ROW: 1}


def test_dry_run_counts_every_kind_once_and_writes_nothing() -> None:
    world = planted()
    report = world.run(batch_size=3).run()
    assert report.found == EXPECTED
    assert report.fixed == dict.fromkeys(Drift, 0)
    assert report.pages_checked == 16  # 14 pages with rows + 2 tagged pages without rows
    assert report.exit_code == 1
    assert world.writes == 0
    assert sorted(report.samples[Drift.TAG_WITHOUT_ROW]) == [20, 21]


@pytest.mark.parametrize("batch_size", [1, 3, 500])
def test_fix_repairs_everything_and_a_second_run_finds_nothing(batch_size: int) -> None:
    world = planted()
    report = world.run(fix=True, batch_size=batch_size).run()
    assert report.found == EXPECTED and report.fixed == EXPECTED and report.exit_code == 0
    assert world.rows[40] == {} and 40 not in world.tags
    assert world.rows[50] == {} and 50 not in world.tags
    assert 30 in world.tags and {20, 21}.isdisjoint(world.tags)
    again = world.run(fix=True, batch_size=batch_size).run()
    assert sum(again.found.values()) == 0 and again.exit_code == 0


def test_drift_gone_when_confirmed_is_not_counted() -> None:
    """The batch read sees a row without its tag; the worker's tag lands before the confirmation."""
    world = World()
    world.rows[5] = {50: True}
    reads = []

    def worker_tags_after_the_batch_read(page_ids: Sequence[int]) -> None:
        reads.append(page_ids)
        if len(reads) == 2:
            world.tags.add(5)

    world.on_read = worker_tags_after_the_batch_read
    report = world.run(fix=True).run()
    assert sum(report.found.values()) == 0 and report.resolved_meanwhile == 1
    assert world.writes == 0


def test_a_consumer_write_racing_a_repair_is_caught_by_the_read_back() -> None:
    """We clear a tag with no row; meanwhile the worker commits the row, and its tag write landed
    before our clear. The read-back sees the row without its tag and sets it again."""
    world = World()
    world.tags.add(5)
    raced = []

    def worker_commits_row_first() -> None:
        if not raced:
            raced.append(True)
            world.rows[5] = {50: True}  # the worker's row, committed; its tag set was overtaken by our clear

    world.on_flush = worker_commits_row_first
    report = world.run(fix=True).run()
    assert report.found[Drift.TAG_WITHOUT_ROW] == 1 and report.fixed[Drift.TAG_WITHOUT_ROW] == 1
    assert world.rows[5] == {50: True} and 5 in world.tags


def test_a_page_that_keeps_changing_is_left_as_remaining() -> None:
    world = World()
    world.tags.add(5)
    world.on_flush = lambda: world.tags.add(5)  # something re-sets the tag after every repair
    report = world.run(fix=True).run()
    assert report.found[Drift.TAG_WITHOUT_ROW] == 1 and report.fixed[Drift.TAG_WITHOUT_ROW] == 0
    assert report.exit_code == 1
    assert world.writes == MAX_FIX_ROUNDS


def test_reads_are_batched() -> None:
    world = World()
    for page in range(1, 101):
        world.rows[page] = {page: True}
        world.tags.add(page)
    world.run(batch_size=25).run()
    assert world.row_queries == 8  # one per batch on each side; nothing drifts, so no confirmation reads


def test_drift_is_confirmed_only_after_the_grace_period() -> None:
    """Writes in flight land during the grace period: the worker's tag for page 5 arrives, page 6's
    drift is real. One wait per batch that has candidates, none for a clean batch."""
    world = World()
    world.rows.update({5: {50: True}, 6: {60: True}, 7: {70: True}})
    world.tags.add(7)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        world.tags.add(5)

    report = world.run(fix=True, batch_size=500, grace_s=4.0, sleep=sleep, clock=lambda: 100.0).run()
    assert slept == [4.0]
    assert report.found[Drift.ROW_WITHOUT_TAG] == 1 and report.samples[Drift.ROW_WITHOUT_TAG] == [6]
    assert report.resolved_meanwhile == 1
