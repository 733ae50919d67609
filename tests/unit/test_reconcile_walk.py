"""stream.ops.reconciler with in-memory stores: the batched walk, confirmation, repair and read-back."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

import pytest

from sinks.base import Fence, FlushResult, Freshness, PageWrite, TagAction, TagChange, TagSink
from stream.core.page_core import Drift, PageRecord
from stream.ops.reconciler import MAX_FIX_ROUNDS, Reconciler

WIKI = "elwiki"


class Tags(TagSink):
    """The tag side of :class:`World`, compare-and-set on its fences by the real TagSink check."""

    name = "fake"

    def __init__(self, world: World) -> None:
        super().__init__(world.fences)
        self.world = world

    def tagged_page_ids(self, wiki_id: str, *, batch_size: int = 1000) -> Iterator[int]:
        yield from sorted(self.world.tags, reverse=True)  # a scroll has no useful order

    def link_tagged(self, wiki_id: str, page_ids: Sequence[int]) -> frozenset[int]:
        self.world.on_read(page_ids)
        return frozenset(page for page in page_ids if page in self.world.tags)

    def add(self, item: TagChange) -> None:
        self.world.before_write(item.page_id)
        super().add(item)

    def flush(self) -> FlushResult:
        self.world.writes += 1
        changes = list(self._pending.values())
        stale = self._stale(changes)
        for change in changes:
            if change.key not in stale:
                (self.world.tags.add if change.action is TagAction.SET else self.world.tags.discard)(change.page_id)
        self._pending.clear()
        self.world.on_flush()
        return FlushResult(self.name, len(changes), 0.0, {"stale": len(stale)})


class World:
    """Rows, fences, tags and Redis records of one wiki behind the three protocols reconcile uses;
    row writes compare-and-set on the fence like sinks.mariadb's.

    ``on_flush`` / ``on_read`` / ``before_write`` let a test play the consumer writing in between
    reconcile's calls.
    """

    def __init__(self) -> None:
        self.rows: dict[int, dict[int, bool]] = {}
        self.fence: dict[int, Fence] = {}
        self.tags: set[int] = set()
        self.known: dict[int, PageRecord] = {}
        self.pending: list[PageWrite] = []
        self.on_flush: Callable[[], None] = lambda: None
        self.on_read: Callable[[Sequence[int]], None] = lambda page_ids: None
        self.before_write: Callable[[int], None] = lambda page_id: None
        self.writes = 0
        self.row_queries = 0
        self.tagger = Tags(self)

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

    def fences(self, wiki_id: str, page_ids: Sequence[int]) -> Mapping[int, Fence]:
        return {page: self.fence[page] for page in page_ids if page in self.fence}

    def write_page(self, write: PageWrite) -> None:
        self.before_write(write.page_id)
        self.pending.append(write)

    def flush(self) -> FlushResult:
        self.writes += 1
        stale = 0
        for write in self.pending:
            removal = write.freshness is Freshness.REMOVED
            fence = self.fence.get(write.page_id)
            if fence is not None and not fence.admits(write.rev_id, removal=removal):
                stale += 1
                continue
            if fence is None or write.rev_id > fence.rev_id or write.freshness is not Freshness.CURRENT:
                self.fence[write.page_id] = Fence(write.rev_id, removal)
            page = self.rows.get(write.page_id, {})
            for rev in [rev for rev in page if write.delete_below is not None and rev < write.delete_below]:
                del page[rev]
        self.pending.clear()
        return FlushResult("fake", 1, 0.0, {"stale": stale})

    # Pages
    def page(self, wiki: str, page_id: int) -> PageRecord | None:
        return self.known.get(page_id)

    def pages(self, wiki: str, page_ids) -> dict[int, PageRecord | None]:
        return {page_id: self.known.get(page_id) for page_id in page_ids}

    def newer_revision(self, page_id: int, rev_id: int, *, data: bool) -> None:
        """What ingest and the worker write for a newer revision: fence raised, older rows
        deleted, the revision's row, its tag."""
        self.known[page_id] = PageRecord(rev_id, False)
        self.fence[page_id] = Fence(rev_id, False)
        self.rows[page_id] = {rev_id: data}
        (self.tags.add if data else self.tags.discard)(page_id)

    def run(self, *, fix: bool = False, batch_size: int = 3, **options) -> Reconciler:
        return Reconciler(WIKI, self, self.tagger, self, fix=fix, batch_size=batch_size, **options)


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


def row_and_tag_of(world: World, rev_id: int) -> None:
    world.rows[5] = {rev_id: True}
    world.tags.add(5)


RACES = [
    pytest.param(lambda w: (w.rows.update({5: {100: True}}), w.tags.add(5),
                            w.known.update({5: PageRecord(200, False)})),
                 Drift.STALE_ROW, True, id="stale row: rows deleted below 200, tag cleared at 200"),
    pytest.param(lambda w: (w.rows.update({5: {200: True}}), w.fence.update({5: Fence(200, False)})),
                 Drift.ROW_WITHOUT_TAG, False, id="row without tag: tag set at 200"),
    pytest.param(lambda w: (row_and_tag_of(w, 200), w.known.update({5: PageRecord(200, True)}),
                            w.fence.update({5: Fence(200, True)})),
                 Drift.REMOVED_PAGE_ROW, True, id="removed page: rows up to 200 deleted, tag cleared"),
]


@pytest.mark.parametrize(("plant", "kind", "data"), RACES)
def test_a_newer_revision_landing_between_read_and_repair_survives(plant, kind: Drift, data: bool) -> None:
    """Revision 300 (ingest's fence, the worker's row and tag) lands after reconcile read the page
    and before its repair is written: the repair, decided for 200, is refused by the fence, and
    after every flush the page shows revision 300's state."""
    world = World()
    plant(world)
    raced: list[bool] = []
    seen: list[tuple[dict[int, bool], bool]] = []

    def newer_revision_lands(page_id: int) -> None:
        if not raced:
            raced.append(True)
            world.newer_revision(page_id, 300, data=data)

    world.before_write = newer_revision_lands
    world.on_flush = lambda: seen.append((dict(world.rows[5]), 5 in world.tags))
    report = world.run(fix=True).run()
    assert raced and seen, "the repair was written"
    assert report.found[kind] == 1 and report.fixed[kind] == 1
    assert seen == [({300: data}, data)] * len(seen), "a repair decided for 200 landed over 300's state"
    assert (world.rows[5], 5 in world.tags, world.fence[5]) == ({300: data}, data, Fence(300, False))
