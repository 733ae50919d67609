"""Ingest: source events in, immediate invalidation, work items out (keyed by page, in order).

For each message of a source topic (``page_content_change.v1`` or ``page_change.v1``):

1. parse and validate (``stream.core.events``); an invalid event goes to the error topic, raw;
2. drop canaries and wikis not enabled here; drop other namespaces, except a page *moved out* of
   a content namespace, which is a removal;
3. a **removal** (delete, content hidden, moved out): tombstone the page in Redis, mark a deleted
   title gone, delete all the page's rows and clear its tag *at once*, and forward a removal item;
4. a **new revision** (create, edit, move, undelete, content shown again): record it, note titles
   gone/created by moves, invalidate *at once* when older rows may be stored (delete them, clear
   the tag, ``rev_based``), then forward a work item carrying the wikitext (fetched from the
   content source when the event has none: ``page_change.v1``).

What to write, and whether the event is stale, is ``stream.core.page_core.decide``'s; the row write is
compare-and-set on the page's fence, so this invalidation and a worker's buffered row of an older
revision can land in either order and the newer revision still wins.

Every eligible event, removals included, travels the work topic in per-page order: the worker
brings the page to the state of each item it handles, so a stale item that slipped through (Redis
lost its state) is undone by the page's later items. Writes here are buffered in the sinks and the
work-topic producer; they become durable at the checkpoint, before the source offset is committed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Protocol

from sinks.base import FlushResult, PageWrite, Producer, Sink, TagAction, TagChange, TagSink, deliver
from stream.config import Settings, WikiSettings
from stream.pipeline.consume_loop import Done, ErrorReporter
from stream.pipeline.content import ContentSource
from stream.core.eligibility import NotCandidate, not_candidate
from stream.core.events import (
    WIKITEXT,
    InvalidEvent,
    PageChangeEvent,
    SourceMessage,
    WorkItem,
    content_body,
    parse_event,
    require_storable_ids,
    titles_created,
    titles_gone,
)
from stream.transport.kafka_io import MAX_MESSAGE_BYTES
from stream.observe.metrics import Sensor, StageTimer
from stream.core.page_core import ChangeKind, PageChange, PageFacts, PageWrites, apply, decide
from stream.core.page_core import PageRecord
from stream.core.quiet import Clock, SystemClock
from stream.pipeline.state import PageState


class RowStore(Protocol):
    """What ingest needs of ``sinks.mariadb.RecommendationStore``."""

    def prefetch(self, batch: Mapping[str, tuple[Sequence[int], Sequence[int]]]) -> None:
        """Read the latest revisions of each wiki's ``(page ids, revision ids)`` at once, for a poll batch."""

    def latest_revision(self, wiki_id: str, page_id: int) -> int | None:
        """Highest gelr_revision stored for the page (committed rows), None if it has none."""

    def write_page(self, write: PageWrite) -> None:
        """Buffer a compare-and-set write of the page's rows."""


class WorkTopicSink(Sink[WorkItem]):
    """Buffers work items; ``flush()`` produces them and waits for every acknowledgement.

    Buffering until the checkpoint (rather than producing at once) lets a rebalance discard them
    together with the other sinks' writes. Items of one page keep their order (one key, one partition).
    """

    name = "work_topic"

    def __init__(self, producer: Producer, topic: str, *, timeout: float = 30.0) -> None:
        self._producer = producer
        self._topic = topic
        self._timeout = timeout
        self._buffer: list[tuple[bytes, bytes]] = []

    def add(self, item: WorkItem) -> None:
        value = item.to_json()
        if len(value) > MAX_MESSAGE_BYTES:
            raise ValueError(f"work item for {item.wiki_id} page {item.page_id} is {len(value)} bytes, over the limit")
        self._buffer.append((item.key(), value))

    def flush(self) -> FlushResult:
        started = time.monotonic()
        batch = list(self._buffer)
        if batch:
            deliver(self._producer, self._topic, batch, self._timeout)
            del self._buffer[: len(batch)]
        return self._timed(self.name, len(batch), started, {"work_items": len(batch)})

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def discard(self) -> None:
        self._buffer.clear()

    def close(self) -> None:
        self._buffer.clear()


def removal_kind(event: PageChangeEvent, wiki: WikiSettings) -> str | None:
    """``delete``, ``content_hidden`` or ``moved_out`` (of the content namespaces) when the event
    takes the page's current revision out of reach; None otherwise."""
    if event.page_change_kind == "delete":
        return "delete"
    if event.page_change_kind == "visibility_change" and not event.revision.is_content_visible:
        return "content_hidden"
    prior = event.prior_state.page if event.prior_state else None
    if (event.page_change_kind == "move" and event.page.namespace_id not in wiki.content_namespaces
            and prior is not None and prior.namespace_id in wiki.content_namespaces):
        return "moved_out"
    return None


class IngestHandler:
    """Handles one source message; all clients are passed in (see stream/pipeline/bootstrap.py)."""

    def __init__(
        self,
        *,
        settings: Settings,
        state: PageState,
        store: RowStore,
        tags: TagSink,
        work: WorkTopicSink,
        errors: ErrorReporter,
        content: ContentSource,
        sensor: Sensor,
        clock: Clock | None = None,
    ) -> None:
        self._settings = settings
        self._state = state
        self._store = store
        self._tags = tags
        self._work = work
        self._errors = errors
        self._content = content
        self._sensor = sensor
        self._timer = StageTimer(sensor, "ingest", clock or SystemClock())
        self._batch_events: dict[tuple[str, int, int], PageChangeEvent] = {}

    def prepare(self, messages: Sequence[SourceMessage]) -> None:
        """Decode a poll batch and read its pages' newest stored revisions in one MariaDB query per
        wiki instead of one per event; an empty batch forgets them. Redis stays per event: its writes
        are compare-and-set scripts whose answers decide what the next event of the page sees."""
        self._batch_events = {}
        events = {}
        pages: dict[str, set[int]] = {}
        with self._timer.stage("decode"):
            for message in messages:
                try:
                    event = parse_event(message.value)
                except InvalidEvent:
                    continue  # reported when handled
                events[(message.topic, message.partition, message.offset)] = event
                try:
                    require_storable_ids(event)
                except InvalidEvent:
                    continue  # reported when handled
                if self._settings.wiki(event.wiki_id) is not None:
                    pages.setdefault(event.wiki_id, set()).add(event.page.page_id)
        with self._timer.stage("mariadb_read"):
            self._store.prefetch({wiki_id: (sorted(ids), ()) for wiki_id, ids in pages.items()})
        self._batch_events = events

    def handle(self, message: SourceMessage) -> Done:
        try:
            event = self._batch_events.pop((message.topic, message.partition, message.offset), None)
            if event is None:
                with self._timer.stage("decode"):
                    event = parse_event(message.value)
        except InvalidEvent as error:
            return self._reject(message, error)
        wiki = self._settings.wiki(event.wiki_id)
        self._sensor.on_event_in(message.topic, event.wiki_id if wiki else "other")
        with self._timer.stage("validate"):
            reason = not_candidate(event, self._settings)
        if wiki is None or reason in (NotCandidate.CANARY, NotCandidate.WIKI_NOT_ENABLED):
            self._sensor.on_event_dropped(str(reason))
            return Done()
        try:
            with self._timer.stage("validate"):
                require_storable_ids(event)
        except InvalidEvent as error:
            return self._reject(message, error)
        removal = removal_kind(event, wiki)
        if removal is not None:
            self._remove(event, message, removal)
        elif reason is NotCandidate.NOT_CONTENT_NAMESPACE:
            self._sensor.on_event_dropped(str(reason))
        else:
            self._new_revision(event, message)
        return Done()

    def _reject(self, message: SourceMessage, error: InvalidEvent) -> Done:
        self._errors.report(message.value, error, key=message.key, topic=message.topic,
                            partition=message.partition, offset=message.offset)
        self._sensor.on_error("ingest", type(error).__name__)
        return Done()

    def _remove(self, event: PageChangeEvent, message: SourceMessage, kind: str) -> None:
        with self._timer.stage("redis"):
            accepted = self._state.mark_removed(event.wiki_id, event.page.page_id, event.revision.rev_id)
        writes = decide(self._facts(event, accepted, removed=True), self._change(event, ChangeKind.REMOVAL))
        if writes is None:
            self._sensor.on_event_dropped("stale")
            return
        for title in titles_gone(event):
            self._state.mark_gone(event.wiki_id, title, event.dt)
        self._apply(event, writes, kind)
        self._forward(WorkItem.from_event(event, message, include_wikitext=False))

    def _new_revision(self, event: PageChangeEvent, message: SourceMessage) -> None:
        wiki_id, page_id, rev_id = event.wiki_id, event.page.page_id, event.revision.rev_id
        revive = event.page_change_kind in ("undelete", "visibility_change")
        with self._timer.stage("redis"):
            accepted = self._state.record_revision(wiki_id, page_id, rev_id, revive=revive)
        writes = decide(self._facts(event, accepted, removed=False),
                        self._change(event, ChangeKind.REVISION, revive=revive))
        if writes is None:
            self._sensor.on_event_dropped("stale")
            return
        for title in titles_gone(event):
            self._state.mark_gone(wiki_id, title, event.dt)
        for title, created_id in titles_created(event):
            article = created_id == page_id and not event.page.is_redirect  # a move's redirect has its own id
            self._state.mark_present(wiki_id, title, event.dt, created_id, article=article)
        if writes.row is not None:  # older rows (or a tag) may exist: invalidate now, not later
            self._apply(event, writes, event.page_change_kind)
        item = WorkItem.from_event(event, message, include_wikitext=True)
        if item.wikitext is None and self._fetchable(event):
            text = self._content.fetch(wiki_id=wiki_id, domain=event.meta.domain, rev_id=rev_id)
            if text is not None:
                item = item.model_copy(update={"wikitext": text})
        self._forward(item)

    def _facts(self, event: PageChangeEvent, accepted: bool, *, removed: bool) -> PageFacts:
        """Redis' record as the script left it (read back only when it refused the event: the rare
        stale case), and the newest stored row."""
        wiki_id, page_id, rev_id = event.wiki_id, event.page.page_id, event.revision.rev_id
        with self._timer.stage("redis"):
            known = PageRecord(rev_id, removed) if accepted else self._state.page(wiki_id, page_id)
        with self._timer.stage("mariadb_read"):
            return PageFacts(known=known, stored=self._store.latest_revision(wiki_id, page_id))

    @staticmethod
    def _change(event: PageChangeEvent, kind: ChangeKind, *, revive: bool = False) -> PageChange:
        return PageChange(event.wiki_id, event.page.page_id, event.revision.rev_id, kind, revive=revive,
                          created=event.page_change_kind == "create")

    @staticmethod
    def _fetchable(event: PageChangeEvent) -> bool:
        """The event lacks the text of a visible wikitext revision (page_change.v1, enrichment gap)."""
        slot = event.main_slot
        return (content_body(event) is None and event.revision.is_content_visible and slot is not None
                and slot.content_model == WIKITEXT)

    def _apply(self, event: PageChangeEvent, writes: PageWrites, kind: str) -> None:
        page = TagChange(event.wiki_id, event.page.page_id, TagAction.CLEAR, page_title=event.page.page_title,
                         namespace_id=event.page.namespace_id or 0, dt=event.dt, domain=event.meta.domain,
                         request_id=event.meta.request_id, rev_id=event.revision.rev_id)
        apply(writes, self._store, self._tags, page)
        self._sensor.on_invalidation(event.wiki_id, kind)

    def _forward(self, item: WorkItem) -> None:
        self._work.add(item)
        self._sensor.on_item_forwarded(item.wiki_id)

