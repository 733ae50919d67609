"""Rows an older model made: which they are, the walk over a wiki's rows, and the work item that
evaluates one again. Shared by ``addlink rescore`` (stream/ops/rescore.py, on demand) and the
regeneration stage of ``addlink run`` (stream/pipeline/regeneration.py).

Every stored recommendation names its model (``meta.dataset_checksums.model`` of ``gelr_data``);
a row is outdated when that is not the wiki's current bundle's model. NULL rows name no model and
are never walked: a new model may find links there only on the page's next edit. A revision whose
text the content source cannot give (deleted or hidden since) cannot be evaluated again: its old
row stays.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from sinks.mariadb import StoredPage
from stream.core.events import WIKITEXT, WorkItem
from stream.pipeline.content import Revision

SOURCE = "addlink.rescore"
"""``source_topic`` of rescore work items: they come from a walk over stored rows, not a source topic."""


def row_model(data: bytes) -> str | None:
    """The model checksum a stored ``gelr_data`` names, None when it names none (or is not JSON)."""
    try:
        meta = json.loads(data).get("meta", {})
        model = meta.get("dataset_checksums", {}).get("model")
    except (ValueError, AttributeError):
        return None
    return model if isinstance(model, str) else None


def outdated(data: bytes, model: str) -> bool:
    """True when the row was made by another model than ``model`` (or names none)."""
    return row_model(data) != model


class Rows(Protocol):
    """What the walk reads of ``sinks.mariadb.RecommendationStore`` (committed rows)."""

    def pages_with_data(self, wiki_id: str, *, batch_size: int = 500, after_page_id: int = 0
                        ) -> Iterator[StoredPage]: ...

    def stored_data(self, wiki_id: str, rev_id: int) -> bytes | None: ...


class Revisions(Protocol):
    """A revision's text and page (``stream.pipeline.content.MediaWikiActionApi``)."""

    def revision(self, *, wiki_id: str, domain: str | None, rev_id: int) -> Revision | None: ...


class Verdict(StrEnum):
    CURRENT = "current"  # made by the current model (or no data any more): nothing to do
    OUTDATED = "outdated"  # made by another model, text found: evaluate again
    NO_TEXT = "no_text"  # made by another model, but the revision's text is gone: the row stays


@dataclass(frozen=True)
class Checked:
    """One page of the walk: its newest data row, what it needs, and the revision when outdated."""

    page: StoredPage
    verdict: Verdict
    revision: Revision | None = None


def walk(rows: Rows, revisions: Revisions, wiki: str, domain: str, model: str, *, after_page_id: int = 0,
         batch_size: int = 100, pace: Callable[[], None] = lambda: None) -> Iterator[Checked]:
    """Every page of ``wiki`` with a data row after ``after_page_id``, in page id order, judged
    against ``model``. ``pace`` is called before each text fetch (the expensive step, and the one
    that leads to an evaluation), so it bounds both. Lazy: rows are read ``batch_size`` pages at a
    time and a caller may stop at any page."""
    for stored in rows.pages_with_data(wiki, batch_size=batch_size, after_page_id=after_page_id):
        data = rows.stored_data(wiki, stored.rev_id)
        if data is None or not outdated(data, model):
            yield Checked(stored, Verdict.CURRENT)
            continue
        pace()
        revision = revisions.revision(wiki_id=wiki, domain=domain, rev_id=stored.rev_id)
        yield Checked(stored, Verdict.OUTDATED if revision is not None else Verdict.NO_TEXT, revision)


def rescore_item(wiki: str, domain: str, stored: StoredPage, revision: Revision, *, offset: int = 0,
                 now: datetime | None = None) -> WorkItem:
    """The work item that evaluates ``stored``'s revision again through the worker's own handler
    (``rescore=True``: its row does not stop the evaluation; every other rule, the freshness checks
    and the compare-and-set writes apply). Keyed like live items (``WorkItem.key``)."""
    now = now or datetime.now(UTC)
    return WorkItem(wiki_id=wiki, page_id=stored.page_id, page_title=revision.title,
                    namespace_id=revision.namespace_id, rev_id=stored.rev_id, dt=revision.timestamp or now,
                    event_dt=now, domain=domain, page_change_kind="edit", content_model=WIKITEXT,
                    source_topic=SOURCE, source_partition=0, source_offset=offset, wikitext=revision.wikitext,
                    rescore=True)


@dataclass
class Pacer:
    """At most ``rate`` calls of :meth:`wait` per second (None or 0: no bound), without catching up
    after a pause: a walk held up by an outage resumes at ``rate``, never in a burst."""

    rate: float | None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], object] = time.sleep
    _next: float | None = field(default=None, init=False)

    def wait(self) -> None:
        if not self.rate:
            return
        now = self.clock()
        if self._next is not None and self._next > now:
            self.sleep(self._next - now)
            now = self._next
        self._next = now + 1.0 / self.rate
