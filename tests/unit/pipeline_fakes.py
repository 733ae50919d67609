"""Test doubles for the pipeline's pure logic: a clock the test advances, a recording sink.

Integration tests never use these: they run against the real services.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from stream.cli.produce import page_change_event
from stream.core.events import SourceMessage, WorkItem, parse_event


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
    """Flushes into ``log`` under its name; fails the next ``failures`` flushes."""

    def __init__(self, name: str, log: list[str], failures: int = 0, error: type[Exception] = ConnectionError) -> None:
        self.name = name
        self.log = log
        self.failures = failures
        self.error = error

    def flush(self) -> None:
        if self.failures:
            self.failures -= 1
            self.log.append(f"{self.name}:failed")
            raise self.error(f"{self.name} is down")
        self.log.append(self.name)


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
        self.pages: dict[tuple[str, int], tuple[int, bool]] = {}
        self.gone: set[tuple[str, str]] = set()
        self.page_ids_by_title: dict[tuple[str, str], int] = {}

    def record_revision(self, wiki: str, page_id: int, rev_id: int, *, revive: bool = False) -> bool:
        current = self.pages.get((wiki, page_id))
        if current is not None:
            rev, removed = current
            if rev_id < rev or (rev_id == rev and removed and not revive):
                return False
        self.pages[(wiki, page_id)] = (rev_id, False)
        return True

    def mark_removed(self, wiki: str, page_id: int, rev_id: int) -> bool:
        current = self.pages.get((wiki, page_id))
        if current is not None and rev_id < current[0]:
            return False
        self.pages[(wiki, page_id)] = (rev_id, True)
        return True

    def page(self, wiki: str, page_id: int):
        from stream.pipeline.state import PageRecord

        current = self.pages.get((wiki, page_id))
        return None if current is None else PageRecord(rev_id=current[0], removed=current[1])

    def mark_gone(self, wiki: str, title: str, dt) -> bool:
        self.gone.add((wiki, title.replace("_", " ")))
        return True

    def mark_present(self, wiki: str, title: str, dt, page_id: int | None = None) -> bool:
        self.gone.discard((wiki, title.replace("_", " ")))
        if page_id is not None:
            self.page_ids_by_title[(wiki, title.replace("_", " "))] = page_id
        return True

    def gone_titles(self, wiki: str, titles) -> frozenset[str]:
        return frozenset(t for t in titles if (wiki, t.replace("_", " ")) in self.gone)

    def page_ids(self, wiki: str, titles) -> dict[str, int]:
        return {t: self.page_ids_by_title[(wiki, t)] for t in titles if (wiki, t) in self.page_ids_by_title}

    def forget_everything(self) -> None:
        """What a Redis restart without persistence does."""
        self.pages.clear()
        self.gone.clear()
        self.page_ids_by_title.clear()


class FakeStore:
    """Rows of growthexperiments_link_recommendations in memory; writes apply on flush(), in order."""

    name = "mariadb"

    def __init__(self) -> None:
        self.rows: dict[tuple[str, int], tuple[int, bytes | None]] = {}  # (wiki, rev) -> (page, data)
        self.ops: list[tuple] = []
        self.submissions: dict[str, set[int]] = {}
        self.link_edits: dict[tuple[str, int], frozenset[int]] = {}
        self.rejected: dict[tuple[str, int], frozenset[int]] = {}

    def _after_pending(self) -> dict[tuple[str, int], tuple[int, bytes | None]]:
        """The rows as flush() will leave them (the real store's reads include its buffered writes)."""
        rows = dict(self.rows)
        for op in self.ops:
            if op[0] == "delete":
                for key in [k for k, (page, _) in rows.items() if k[0] == op[1] and page == op[2]]:
                    del rows[key]
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

    def delete_page(self, wiki: str, page_id: int) -> None:
        self.ops.append(("delete", wiki, page_id))

    def replace(self, wiki: str, page_id: int, rev_id: int, data: bytes | None) -> None:
        self.ops.append(("replace", wiki, page_id, rev_id, data))

    def flush(self) -> None:
        self.rows = self._after_pending()
        self.ops.clear()

    def page_rows(self, wiki: str, page_id: int) -> dict[int, bytes | None]:
        return {rev: data for (w, rev), (page, data) in self.rows.items() if w == wiki and page == page_id}


class RecordingErrors:
    """ErrorReporter that keeps what it was given."""

    def __init__(self) -> None:
        self.reports: list[tuple[bytes, BaseException, dict]] = []

    def report(self, raw: bytes, error: BaseException, **source) -> None:
        self.reports.append((raw, error, source))


def fake_tag_sink():
    """A real sinks.base.TagSink whose flush applies to ``.tags`` (page -> set?)."""
    from sinks.base import TagAction, TagSink

    class FakeTags(TagSink):
        name = "elasticsearch"

        def __init__(self) -> None:
            super().__init__()
            self.tags: dict[tuple[str, int], bool] = {}
            self.changes: list = []

        def flush(self):
            for change in self._pending.values():
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
        return 0, len(self.log[tp])

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
