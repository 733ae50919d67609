"""Test doubles for the pipeline's pure logic: a clock the test advances, a recording sink.

Integration tests never use these: they run against the real services.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from sinks.base import Fence, FlushResult, Freshness, PageWrite
from stream.ops.backfill import page_change_event
from stream.core.events import SourceMessage, WorkItem, parse_event
from stream.pipeline.state import TitleRecord


def work_item(text: str | None, *, wiki_id: str = "elwiki", page_id: int = 7, title: str = "Δοκιμή",
              rev_id: int = 100) -> WorkItem:
    """The work item ingest would forward for an edit event carrying ``text``."""
    event = page_change_event(wiki_id=wiki_id, domain=f"{wiki_id.removesuffix('wiki')}.wikipedia.org",
                              page_id=page_id, title=title, rev_id=rev_id, rev_dt="2023-01-01T00:00:00Z", text=text)
    return WorkItem.from_event(parse_event(json.dumps(event, ensure_ascii=False).encode()),
                               SourceMessage("src", 0, 1, None, b"", None), include_wikitext=True)


class FakeClock:
    """Wall and monotonic clocks that move only when the test says so."""

    def __init__(self, wall: float = 1_700_000_000.0, monotonic: float = 1_000.0) -> None:
        self.wall_time = wall
        self.monotonic_time = monotonic

    def wall(self) -> float:
        return self.wall_time

    def monotonic(self) -> float:
        return self.monotonic_time

    def advance(self, seconds: float) -> None:
        self.wall_time += seconds
        self.monotonic_time += seconds


class RecordingFlushable:
    """Flushes into ``log`` under its name; fails the next ``failures`` flushes; reports
    ``outcomes`` like a sink when given (a producer reports nothing)."""

    def __init__(self, name: str, log: list[str], failures: int = 0, error: type[Exception] = ConnectionError,
                 outcomes: dict[str, int] | None = None) -> None:
        self.name = name
        self.log = log
        self.failures = failures
        self.error = error
        self.outcomes = outcomes

    def flush(self) -> FlushResult | None:
        if self.failures:
            self.failures -= 1
            self.log.append(f"{self.name}:failed")
            raise self.error(f"{self.name} is down")
        self.log.append(self.name)
        return None if self.outcomes is None else FlushResult(self.name, 1, 0.0, self.outcomes)


class RecordingCommitter:
    """Records offset commits into ``log``; fails the next ``failures`` commits."""

    def __init__(self, log: list[str], failures: int = 0) -> None:
        self.log = log
        self.failures = failures
        self.commits: list[dict[tuple[str, int], int]] = []

    def commit(self, offsets: Mapping[tuple[str, int], int]) -> None:
        from stream.transport.checkpoint import CommitFailed

        if self.failures:
            self.failures -= 1
            self.log.append("commit:failed")
            raise CommitFailed("rebalance in progress")
        self.log.append("commit")
        self.commits.append(dict(offsets))


class FakePageState:
    """In-memory stand-in for stream.pipeline.state.PageState with its documented semantics (pure-logic tests)."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, int], tuple[int, bool]] = {}
        self.title_records: dict[tuple[str, str], TitleRecord] = {}
        self.articles: dict[tuple[str, str], bool] = {}  # (wiki, title) -> an article was created there
        self.batch_reads = 0

    def record_revision(self, wiki: str, page_id: int, rev_id: int, *, revive: bool = False) -> bool:
        current = self.records.get((wiki, page_id))
        if current is not None:
            rev, removed = current
            if rev_id < rev or (rev_id == rev and removed and not revive):
                return False
        self.records[(wiki, page_id)] = (rev_id, False)
        return True

    def mark_removed(self, wiki: str, page_id: int, rev_id: int) -> bool:
        current = self.records.get((wiki, page_id))
        if current is not None and rev_id < current[0]:
            return False
        self.records[(wiki, page_id)] = (rev_id, True)
        return True

    def page(self, wiki: str, page_id: int):
        from stream.core.page_core import PageRecord

        current = self.records.get((wiki, page_id))
        return None if current is None else PageRecord(rev_id=current[0], removed=current[1])

    def pages(self, wiki: str, page_ids):
        self.batch_reads += 1
        return {page_id: self.page(wiki, page_id) for page_id in page_ids}

    def mark_gone(self, wiki: str, title: str, dt) -> bool:
        self.title_records[(wiki, title.replace("_", " "))] = TitleRecord(gone=True, page_id=None)
        return True

    def mark_present(self, wiki: str, title: str, dt, page_id: int | None = None, *, article: bool = False) -> bool:
        self.title_records[(wiki, title.replace("_", " "))] = TitleRecord(gone=False, page_id=page_id)
        self.articles[(wiki, title.replace("_", " "))] = article
        return True

    def new_articles(self, wiki: str) -> list[str]:
        return [title for (w, title), article in self.articles.items() if w == wiki and article
                and not self.title_records[(w, title)].gone]

    def titles(self, wiki: str, titles) -> dict[str, TitleRecord]:
        found = {t: self.title_records.get((wiki, t.replace("_", " "))) for t in titles}
        return {t: record for t, record in found.items() if record is not None}

    def forget_everything(self) -> None:
        """What a Redis restart without persistence does."""
        self.records.clear()
        self.title_records.clear()
        self.articles.clear()


class FakeStore:
    """Rows of growthexperiments_link_recommendations in memory; writes apply on flush(), in order.

    ``write_page`` follows sinks.mariadb's compare-and-set (a fence per page, raised then checked);
    ``replace`` seeds a row unconditionally."""

    name = "mariadb"

    def __init__(self) -> None:
        self.rows: dict[tuple[str, int], tuple[int, bytes | None]] = {}  # (wiki, rev) -> (page, data)
        self.ops: list[tuple] = []
        self.submissions: dict[str, set[int]] = {}
        self.link_edits: dict[tuple[str, int], frozenset[int]] = {}
        self.rejected: dict[tuple[str, int], frozenset[int]] = {}
        self.fences: dict[tuple[str, int], Fence] = {}
        self.prefetched: list[dict] = []

    def prefetch(self, batch) -> None:
        """Records what a batch asked for (the reads below stay exact: they read memory)."""
        self.prefetched.append(dict(batch))

    def _after_pending(self, fences: dict | None = None) -> dict[tuple[str, int], tuple[int, bytes | None]]:
        """The rows as flush() will leave them (the real store's reads include its buffered writes)."""
        rows = dict(self.rows)
        fences = dict(self.fences) if fences is None else fences
        for write in self.ops:
            if isinstance(write, PageWrite):
                fences[(write.wiki_id, write.page_id)] = raised(fences.get((write.wiki_id, write.page_id)), write)
        for op in self.ops:
            if isinstance(op, PageWrite):
                fence = fences[(op.wiki_id, op.page_id)]
                if not fence.admits(op.rev_id, removal=op.freshness is Freshness.REMOVED):
                    continue
                for key in [k for k, (page, _) in rows.items() if k[0] == op.wiki_id and page == op.page_id
                            and op.delete_below is not None and k[1] < op.delete_below]:
                    del rows[key]
                if op.write_row and not (op.data is None and (op.wiki_id, op.rev_id) in rows):
                    rows[(op.wiki_id, op.rev_id)] = (op.page_id, op.data)
            elif op[4] is None and (op[1], op[3]) in rows:
                continue  # a NULL row never replaces an existing row
            else:
                _, wiki, page, rev, data = op
                rows[(wiki, rev)] = (page, data)
        return rows

    def latest_revision(self, wiki: str, page_id: int) -> int | None:
        revs = [rev for (w, rev), (page, _) in self._after_pending().items() if w == wiki and page == page_id]
        return max(revs) if revs else None

    def row_state(self, wiki: str, rev_id: int) -> str:
        rows = self._after_pending()
        if (wiki, rev_id) not in rows:
            return "none"
        return "null" if rows[(wiki, rev_id)][1] is None else "data"

    def has_submission(self, wiki: str, rev_id: int) -> bool:
        return rev_id in self.submissions.get(wiki, set())

    def link_edit_revisions(self, wiki: str, page_id: int) -> frozenset[int]:
        return self.link_edits.get((wiki, page_id), frozenset())

    def rejected_targets(self, wiki: str, page_id: int) -> frozenset[int]:
        return self.rejected.get((wiki, page_id), frozenset())

    def write_page(self, write: PageWrite) -> None:
        self.ops.append(write)

    def replace(self, wiki: str, page_id: int, rev_id: int, data: bytes | None) -> None:
        self.ops.append(("replace", wiki, page_id, rev_id, data))

    def flush(self) -> None:
        self.rows = self._after_pending(self.fences)
        self.ops.clear()

    def fence_reader(self, wiki: str, page_ids) -> dict[int, Fence]:
        return {page_id: self.fences[(wiki, page_id)] for page_id in page_ids if (wiki, page_id) in self.fences}

    def page_rows(self, wiki: str, page_id: int) -> dict[int, bytes | None]:
        return {rev: data for (w, rev), (page, data) in self.rows.items() if w == wiki and page == page_id}


def raised(fence: Fence | None, write: PageWrite) -> Fence:
    """The fence after ``write`` raised it (sinks.mariadb's ON DUPLICATE KEY UPDATE, in Python)."""
    removed = write.freshness is Freshness.REMOVED
    if fence is None or write.rev_id > fence.rev_id:
        return Fence(write.rev_id, removed)
    if write.rev_id < fence.rev_id or write.freshness is Freshness.CURRENT:
        return fence
    return Fence(fence.rev_id, removed)


class RecordingErrors:
    """ErrorReporter that keeps what it was given."""

    def __init__(self) -> None:
        self.reports: list[tuple[bytes, BaseException, dict]] = []

    def report(self, raw: bytes, error: BaseException, **source) -> None:
        self.reports.append((raw, error, source))


def fake_tag_sink(fences=None):
    """A real sinks.base.TagSink whose flush applies to ``.tags`` (page -> set?), compare-and-set
    on ``fences`` (e.g. FakeStore.fence_reader) like the real sinks."""
    from sinks.base import TagAction, TagSink

    class FakeTags(TagSink):
        name = "elasticsearch"

        def __init__(self) -> None:
            super().__init__(fences)
            self.tags: dict[tuple[str, int], bool] = {}
            self.changes: list = []

        def flush(self):
            stale = self._stale(list(self._pending.values()))
            for change in self._pending.values():
                if change.key in stale:
                    continue
                self.changes.append(change)
                self.tags[change.key] = change.action is TagAction.SET
            self._pending.clear()

        def is_set(self, wiki: str, page_id: int) -> bool:
            return self.tags.get((wiki, page_id), False)

    return FakeTags()


class FakeConsumer:
    """An in-memory Kafka consumer with the stream.transport.kafka_io.Consumer protocol: partitions of
    SourceMessages, positions, pause/seek/resume and commits. ``revoke_on_next_poll`` simulates a
    rebalance taking every partition away (and giving them back on the poll after)."""

    def __init__(self, partitions: dict[tuple[str, int], list]) -> None:
        self.log = partitions
        self.positions = {tp: 0 for tp in partitions}
        self.paused: set = set()
        self.committed_offsets: dict = {}
        self.assigned: set = set()
        self.on_assign = self.on_revoke = None
        self.revoke_on_next_poll = False
        self.revoke_after_polls: int | None = None  # revoke on the n-th poll from now
        self.stay_orphaned = False  # after a revocation, no partitions come back until rejoin()
        self.rejoins = 0
        self.closed = False
        self.polls = 0
        self.broker_asks: list = []  # watermarks(): a broker round trip
        self.fetched_ends: list = []  # end_offset(): what the last fetch said

    def subscribe(self, topics, on_assign, on_revoke) -> None:
        self.on_assign, self.on_revoke = on_assign, on_revoke

    def assign(self, offsets) -> None:
        self.assigned = set(offsets)
        self.positions.update(offsets)

    def poll(self, max_messages: int, timeout: float) -> list:
        self.polls += 1
        if self.revoke_after_polls is not None:
            self.revoke_after_polls -= 1
            if self.revoke_after_polls <= 0:
                self.revoke_after_polls, self.revoke_on_next_poll = None, True
        if self.revoke_on_next_poll:
            self.revoke_on_next_poll = False
            revoked = sorted(self.assigned)
            self.on_revoke(revoked)
            self.assigned = set()
            return []  # like librdkafka, pause flags survive: a partition paused before is paused when reassigned
        if not self.assigned and self.on_assign is not None and not self.stay_orphaned:
            self.assigned = set(self.log)
            for tp in self.assigned:
                self.positions[tp] = self.committed_offsets.get(tp, 0)
            self.on_assign(sorted(self.assigned))
        out = []
        for tp in sorted(self.assigned - self.paused):
            while self.positions[tp] < len(self.log[tp]) and len(out) < max_messages:
                out.append(self.log[tp][self.positions[tp]])
                self.positions[tp] += 1
        return out

    def pause(self, tps) -> None:
        self.paused |= set(tps)

    def resume(self, tps) -> None:
        self.paused -= set(tps)

    def seek(self, tp, offset: int) -> None:
        self.positions[tp] = offset

    def commit(self, offsets) -> None:
        self.committed_offsets.update(offsets)

    def committed(self, tps) -> dict:
        return {tp: self.committed_offsets.get(tp) for tp in tps}

    def watermarks(self, tp) -> tuple[int, int]:
        self.broker_asks.append(tp)
        return 0, len(self.log[tp])

    def end_offset(self, tp) -> int:
        self.fetched_ends.append(tp)
        return len(self.log[tp])

    def offsets_for_times(self, times_ms) -> dict:
        return {tp: None for tp in times_ms}

    def partitions(self, topic: str) -> list[int]:
        return sorted(p for t, p in self.log if t == topic)

    def assignment(self) -> set:
        return set(self.assigned)

    def rejoin(self) -> None:
        self.rejoins += 1
        self.stay_orphaned = False

    def close(self) -> None:
        self.closed = True
