"""Reconcile one wiki's stores: walk them in batches, confirm each drift, repair it (the I/O edge).

The decisions are :func:`stream.ops.drift.assess`'s; this module only reads and writes, through
``sinks.mariadb.RecommendationStore``, ``sinks.elasticsearch.WeightedTagSink`` and
``stream.pipeline.state.PageState`` (the small protocols below name what is used).

Walk, never holding a whole wiki in memory:

1. MariaDB side: every page with any row, ``batch_size`` pages at a time in page id order; for
   each batch one realtime ``mget`` of the tags and one Redis read per page.
2. Elasticsearch side: the tagged pages (a scroll), ``batch_size`` at a time, their tags read again
   with a realtime ``mget`` (the search behind the scroll lags writes by about a second), then
   their rows: pages that have rows were covered by step 1 and are skipped, the others are checked.
3. Each page a batch read flags is confirmed by reading it again (tag, then rows, then Redis) and
   assessed anew, once ``grace_s`` has passed since the batch was read (the consumer's writes in
   flight, e.g. Redis already knowing an edit whose invalidation waits for the next commit, have
   then landed); only confirmed drift is counted. With ``fix``, the repair is applied (rows
   deleted before the tag is changed, the pipeline's own order), the page is read back, and
   repaired again if it still drifts, up to :data:`MAX_FIX_ROUNDS` times.

Safe while the consumer runs, and why: every repair is what the consumer itself would write for the
state just read (delete rows of revisions older than the latest, set the tag iff the latest
revision's row has data), deletions name exact revisions (a row written after the read, always of
a newer revision, is never deleted), and each repair is read back. The consumer commits rows before
it writes tags; so if our tag write lands after a concurrent consumer write that it contradicts, the
read-back sees the contradiction (tag vs rows) and repairs it again, and if it lands before, the
consumer's own later write wins. Remaining races, stated honestly:

- A page still changing after :data:`MAX_FIX_ROUNDS` rounds is reported as remaining (exit 1).
- Rows of a removed page are deleted by revision id. If the page is undeleted and the worker
  rewrites the SAME revision's row between our read and our delete, that row is deleted too; the
  read-back then clears the tag, so the page ends with no row and no tag (the invariant holds,
  the recommendation returns with the page's next edit).
- The Elasticsearch side is found by search (refreshed about once a second): a tag set within the
  last second before the scroll started is checked in the next run, not this one. Pages gaining or
  losing rows while the MariaDB walk passes them are seen as they were when their batch was read.
- Redis is the only memory of deletions and of revisions newer than every row. If it lost its
  state, a deleted page's rows and a row of an outdated revision (no newer row stored) look current.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Protocol

from sinks.base import FlushResult, TagAction
from stream.ops.drift import PageDrift, PageView, Report, assess, candidates
from stream.pipeline.state import PageRecord

log = logging.getLogger(__name__)

MAX_FIX_ROUNDS = 3
"""Repairs of one page before it is left as remaining (a page the consumer keeps changing)."""


class Rows(Protocol):
    """What reconcile uses of ``sinks.mariadb.RecommendationStore``."""

    def rows_by_page(self, wiki_id: str, *, batch_size: int = 500, after_page_id: int = 0
                     ) -> Iterator[dict[int, dict[int, bool]]]: ...

    def page_rows(self, wiki_id: str, page_ids: Sequence[int]) -> dict[int, dict[int, bool]]: ...

    def delete_revisions(self, wiki_id: str, page_id: int, rev_ids: Sequence[int]) -> int: ...


class Tags(Protocol):
    """What reconcile uses of ``sinks.elasticsearch.WeightedTagSink``."""

    def tagged_page_ids(self, wiki_id: str, *, batch_size: int = 1000) -> Iterator[int]: ...

    def link_tagged(self, wiki_id: str, page_ids: Sequence[int]) -> frozenset[int]: ...

    def set_link_tag(self, wiki_id: str, page_id: int) -> None: ...

    def clear_link_tag(self, wiki_id: str, page_id: int) -> None: ...

    def flush(self) -> FlushResult: ...


class Pages(Protocol):
    """What reconcile uses of ``stream.pipeline.state.PageState``."""

    def page(self, wiki: str, page_id: int) -> PageRecord | None: ...

    def pages(self, wiki: str, page_ids: Sequence[int]) -> dict[int, PageRecord | None]: ...


def chunks(ids: Iterable[int], size: int) -> Iterator[list[int]]:
    iterator = iter(ids)
    while batch := list(islice(iterator, size)):
        yield batch


@dataclass
class Reconciler:
    """One wiki, one run (see the module docstring). ``fix`` False = report only, write nothing."""

    wiki: str
    rows: Rows
    tags: Tags
    pages: Pages
    fix: bool = False
    batch_size: int = 500
    grace_s: float = 0.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def run(self) -> Report:
        if self.batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        report = Report(self.wiki, self.fix)
        started = self.clock()
        for batch in self.rows.rows_by_page(self.wiki, batch_size=self.batch_size):
            self._check(batch, self.tags.link_tagged(self.wiki, sorted(batch)), report)
        for ids in chunks(self.tags.tagged_page_ids(self.wiki, batch_size=self.batch_size), self.batch_size):
            tagged = self.tags.link_tagged(self.wiki, ids)  # realtime; the search behind the scroll lags
            with_rows = self.rows.page_rows(self.wiki, sorted(tagged))
            self._check({page_id: {} for page_id in tagged if page_id not in with_rows}, tagged, report)
        report.seconds = self.clock() - started
        return report

    def _check(self, rows: Mapping[int, Mapping[int, bool]], tagged: frozenset[int], report: Report) -> None:
        read_at = self.clock()
        ids = sorted(rows)
        known = self.pages.pages(self.wiki, ids)  # one round trip per batch, not one per page
        views = [PageView(page_id, rows[page_id], page_id in tagged, known[page_id]) for page_id in ids]
        report.pages_checked += len(ids)
        flagged = candidates(views)
        if flagged and self.grace_s > 0:
            self.sleep(max(0.0, read_at + self.grace_s - self.clock()))
        for drift in flagged:
            self._confirm_and_repair(drift.page_id, report)

    def read(self, page_id: int) -> PageView:
        """The page now: tag first, then rows (writers change rows before tags), then Redis."""
        tagged = page_id in self.tags.link_tagged(self.wiki, [page_id])
        rows = self.rows.page_rows(self.wiki, [page_id]).get(page_id, {})
        return PageView(page_id, rows, tagged, self.pages.page(self.wiki, page_id))

    def _confirm_and_repair(self, page_id: int, report: Report) -> None:
        confirmed = assess(self.read(page_id))
        if confirmed is None:
            report.resolved_meanwhile += 1
            return
        drift: PageDrift | None = confirmed
        rounds = 0
        while self.fix and drift is not None and rounds < MAX_FIX_ROUNDS:
            self._repair(drift)
            rounds += 1
            drift = assess(self.read(page_id))
        report.record(confirmed, fixed=self.fix and drift is None)
        if drift is not None and self.fix:
            log.warning("drift remains after repairs", extra={"wiki": self.wiki, "page_id": page_id,
                                                              "kinds": sorted(drift.kinds), "rounds": rounds})

    def _repair(self, drift: PageDrift) -> None:
        repair = drift.repair
        deleted = 0
        if repair.delete_revisions:
            deleted = self.rows.delete_revisions(self.wiki, drift.page_id, repair.delete_revisions)
        if repair.tag is TagAction.SET:
            self.tags.set_link_tag(self.wiki, drift.page_id)
        elif repair.tag is TagAction.CLEAR:
            self.tags.clear_link_tag(self.wiki, drift.page_id)
        if repair.tag is not None:
            self.tags.flush()
        log.info("repaired", extra={"wiki": self.wiki, "page_id": drift.page_id, "kinds": sorted(drift.kinds),
                                    "rows_deleted": deleted, "tag": repair.tag and str(repair.tag)})
