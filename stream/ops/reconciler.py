"""Reconcile one wiki's stores: walk them in batches, confirm each drift, repair it (the I/O edge).

What drift is and which writes repair it is decided by :func:`stream.core.page_core.assess`; this
module only reads, and applies those writes through the pipeline's own sinks
(``sinks.mariadb.RecommendationStore``, ``sinks.elasticsearch.WeightedTagSink`` with the store's
fences) beside ``stream.pipeline.state.PageState`` (the small protocols below name what is used).

Walk, never holding a whole wiki in memory:

1. MariaDB side: every page with any row, ``batch_size`` pages at a time in page id order; for
   each batch one realtime ``mget`` of the tags, one read of the fences and of Redis.
2. Elasticsearch side: the tagged pages (a scroll), ``batch_size`` at a time, their tags read again
   with a realtime ``mget`` (the search behind the scroll lags writes by about a second), then
   their rows: pages that have rows were covered by step 1 and are skipped, the others are checked.
3. Each page a batch read flags is confirmed by reading it again (tag, fence, rows, Redis) and
   assessed anew, once ``grace_s`` has passed since the batch was read (the consumer's writes in
   flight, e.g. Redis already knowing an edit whose invalidation waits for the next commit, have
   then landed); only confirmed drift is counted. With ``fix``, the repair is applied (row write
   committed before the tag changes, the pipeline's own order), the page is read back, and
   repaired again if it still drifts, up to :data:`MAX_FIX_ROUNDS` times.

Safe while the consumer runs, and why: a repair is the writes of the page's latest revision as
read, applied compare-and-set like the consumer's own. The row write (rows below the latest
revision deleted; for a removed page, ingest's own removal writes) lands only while that revision
is still the page's freshest (its fence), and the tag change carries the revision, so the tag sink
checks the same fence just before writing. A newer revision that landed after our read raised the
fence: the repair is refused (outcome ``stale``) and can neither delete that revision's row nor
set or clear its tag; the read-back then sees the newer state. Remaining races, stated honestly:

- Within one revision: we clear the tag because the latest revision had no data row when read;
  the worker commits that revision's row and sets its tag, and our clear (same revision, so
  admitted) lands after its set. The read-back sees the row without its tag and sets it again.
- A page still changing after :data:`MAX_FIX_ROUNDS` rounds is reported as remaining (exit 1).
- A removed page undeleted between our read and our repair, at the same revision, is removed
  again (ingest's removal writes are admitted at the tombstone's revision); if the worker had
  already rewritten that revision's row, the page ends with no row and no tag (the invariant
  holds, the recommendation returns with the page's next edit).
- The Elasticsearch side is found by search (refreshed about once a second): a tag set within the
  last second before the scroll started is checked in the next run, not this one. Pages gaining or
  losing rows while the MariaDB walk passes them are seen as they were when their batch was read.
- Redis and the fence are the only memory of deletions and of revisions newer than every row. If
  both lost a page (Redis state lost, the page not written since the fence exists), its deleted
  page's rows or a row of an outdated revision look current.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Protocol

from sinks.base import Fence, FlushResult, PageWrite, TagAction, TagChange
from stream.core.page_core import PageDrift, PageRecord, PageView, apply, assess
from stream.ops.drift import Report

log = logging.getLogger(__name__)

MAX_FIX_ROUNDS = 3
"""Repairs of one page before it is left as remaining (a page the consumer keeps changing)."""


class Rows(Protocol):
    """What reconcile uses of ``sinks.mariadb.RecommendationStore``."""

    def rows_by_page(self, wiki_id: str, *, batch_size: int = 500, after_page_id: int = 0
                     ) -> Iterator[dict[int, dict[int, bool]]]: ...

    def page_rows(self, wiki_id: str, page_ids: Sequence[int]) -> dict[int, dict[int, bool]]: ...

    def fences(self, wiki_id: str, page_ids: Sequence[int]) -> Mapping[int, Fence]: ...

    def write_page(self, write: PageWrite) -> None: ...

    def flush(self) -> FlushResult: ...


class Tags(Protocol):
    """What reconcile uses of ``sinks.elasticsearch.WeightedTagSink``."""

    def tagged_page_ids(self, wiki_id: str, *, batch_size: int = 1000) -> Iterator[int]: ...

    def link_tagged(self, wiki_id: str, page_ids: Sequence[int]) -> frozenset[int]: ...

    def add(self, item: TagChange) -> None: ...

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
        fences = self.rows.fences(self.wiki, ids)
        known = self.pages.pages(self.wiki, ids)  # one round trip per batch, not one per page
        views = [PageView(page_id, rows[page_id], page_id in tagged, known[page_id], fences.get(page_id))
                 for page_id in ids]
        report.pages_checked += len(ids)
        flagged = [drift for drift in (assess(self.wiki, view) for view in views) if drift is not None]
        if flagged and self.grace_s > 0:
            self.sleep(max(0.0, read_at + self.grace_s - self.clock()))
        for drift in flagged:
            self._confirm_and_repair(drift.page_id, report)

    def read(self, page_id: int) -> PageView:
        """The page now: tag first, then the fence and rows (writers commit both before changing
        tags; the fence first, so a row committed in between counts as the latest), then Redis."""
        tagged = page_id in self.tags.link_tagged(self.wiki, [page_id])
        fence = self.rows.fences(self.wiki, [page_id]).get(page_id)
        rows = self.rows.page_rows(self.wiki, [page_id]).get(page_id, {})
        return PageView(page_id, rows, tagged, self.pages.page(self.wiki, page_id), fence)

    def _confirm_and_repair(self, page_id: int, report: Report) -> None:
        confirmed = assess(self.wiki, self.read(page_id))
        if confirmed is None:
            report.resolved_meanwhile += 1
            return
        drift: PageDrift | None = confirmed
        rounds = 0
        while self.fix and drift is not None and rounds < MAX_FIX_ROUNDS:
            self._repair(drift)
            rounds += 1
            drift = assess(self.wiki, self.read(page_id))
        report.record(confirmed, fixed=self.fix and drift is None)
        if drift is not None and self.fix:
            log.warning("drift remains after repairs", extra={"wiki": self.wiki, "page_id": page_id,
                                                              "kinds": sorted(drift.kinds), "rounds": rounds})

    def _repair(self, drift: PageDrift) -> None:
        """The core's writes through the sinks, compare-and-set on the fence at ``drift.rev_id``:
        the row write committed first, then the tag (the action placeholder is replaced by apply)."""
        writes = drift.writes
        apply(writes, self.rows, self.tags, TagChange(self.wiki, drift.page_id, TagAction.CLEAR, rev_id=drift.rev_id))
        rows = self.rows.flush().outcomes if writes.row is not None else {}
        tags = self.tags.flush().outcomes if writes.tag is not None else {}
        log.info("repaired", extra={"wiki": self.wiki, "page_id": drift.page_id, "kinds": sorted(drift.kinds),
                                    "rev_id": drift.rev_id, "rows": dict(rows), "tag": writes.tag and str(writes.tag),
                                    "tag_outcomes": dict(tags)})
