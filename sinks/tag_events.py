"""Weighted-tag changes as ``page_weighted_tags_change`` events (the Search Update Pipeline path).

Instead of writing Elasticsearch, each set/clear becomes one event of stream
``mediawiki.cirrussearch.page_weighted_tags_change.v1``, schema
``/mediawiki/cirrussearch/page_weighted_tags_change/1.0.0`` (reference events-and-search.md §5.4,
growthexperiments.md §4.3), exactly as CirrusSearch's ``EventBusWeightedTagsUpdater`` builds it:

- set:   ``"weighted_tags": {"set": {"recommendation.link": [{"tag": "exists"}]}}`` (no score);
- clear: ``"weighted_tags": {"clear": ["recommendation.link"]}``, with ``"rev_based": true`` only
  when a new revision triggered it (absent otherwise);
- ``page{page_id, page_title (DB key), namespace_id[, is_redirect]}``, ``wiki_id``, ``dt``,
  ``meta{stream, domain, id, dt[, request_id]}``;
- Kafka key ``{"wiki_id": ..., "page_id": ...}`` (the stream's ``message_key_fields``), so all
  events of a page land in one partition, in order.

An event is built (and given its ``meta.id``) when the change is added, so a flush retried after a
failure re-sends identical bytes. Delivery is at-least-once; set and clear are idempotent for the
consumer. ``flush()`` returns only once the broker acknowledged every event.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

from sinks.base import (
    FenceReader,
    LINK_TAG_NAME,
    LINK_TAG_PREFIX,
    FlushResult,
    Producer,
    TagAction,
    TagChange,
    TagSink,
    deliver,
    json_bytes,
    utc_iso,
)

STREAM = "mediawiki.cirrussearch.page_weighted_tags_change.v1"
SCHEMA_URI = "/mediawiki/cirrussearch/page_weighted_tags_change/1.0.0"


def build_event(
    change: TagChange, *, stream: str = STREAM, now: datetime | None = None, event_id: str | None = None
) -> dict[str, Any]:
    """The event for one change. Raises ValueError when a required page field is missing."""
    if not change.page_title:
        raise ValueError(f"{change.wiki_id}:{change.page_id}: page_title is required for a weighted-tags event")
    if not change.domain:
        raise ValueError(f"{change.wiki_id}:{change.page_id}: domain (meta.domain) is required")
    created = utc_iso(now)
    meta: dict[str, Any] = {
        "stream": stream,
        "domain": change.domain,
        "id": event_id or str(uuid.uuid4()),
        "dt": created,
    }
    if change.request_id:
        meta["request_id"] = change.request_id
    page: dict[str, Any] = {
        "page_id": change.page_id,
        "page_title": change.page_title,
        "namespace_id": change.namespace_id,
    }
    if change.is_redirect is not None:
        page["is_redirect"] = change.is_redirect
    if change.action is TagAction.SET:
        weighted_tags: dict[str, Any] = {"set": {LINK_TAG_PREFIX: [{"tag": LINK_TAG_NAME}]}}
    else:
        weighted_tags = {"clear": [LINK_TAG_PREFIX]}
    event: dict[str, Any] = {
        "$schema": SCHEMA_URI,
        "meta": meta,
        "dt": utc_iso(change.dt) if change.dt else created,
        "wiki_id": change.wiki_id,
        "page": page,
        "weighted_tags": weighted_tags,
    }
    if change.rev_based:
        event["rev_based"] = True
    return event


def message_key(change: TagChange) -> bytes:
    """Kafka key ``{"wiki_id":..,"page_id":..}`` as MediaWiki's streams use."""
    return json_bytes({"wiki_id": change.wiki_id, "page_id": change.page_id})


class TagEventSink(TagSink):
    """Produces weighted-tag events to ``topic`` (e.g. ``eqiad.<STREAM>``) through ``producer``."""

    name = "tag_events"

    def __init__(self, producer: Producer, topic: str, *, stream: str = STREAM, timeout: float = 30.0,
                 fences: FenceReader | None = None) -> None:
        super().__init__(fences)
        self.producer = producer
        self.topic = topic
        self.stream = stream
        self.timeout = timeout
        self._encoded: dict[tuple[str, int], tuple[bytes, bytes]] = {}

    def add(self, item: TagChange) -> None:
        value = json_bytes(build_event(item, stream=self.stream))  # validates before buffering
        super().add(item)
        self._encoded[item.key] = (message_key(item), value)

    def flush(self) -> FlushResult:
        """Produce the buffered events and wait for every acknowledgement (see sinks.base.deliver).

        Changes a newer revision invalidated are dropped first (outcome ``stale``). Unlike the
        Elasticsearch sink this cannot be conditional where the tag is applied (CirrusSearch's
        consumer applies it), so a narrow window stays open: an invalidation committed between the
        fence read and this produce can have its clear event ahead of this set event."""
        started = time.monotonic()
        stale = self._stale(list(self._pending.values()))
        keys = [k for k in self._pending if k not in stale]
        outcomes = {"set": 0, "clear": 0, "stale": len(stale)}
        if keys:
            deliver(self.producer, self.topic, [self._encoded[k] for k in keys], self.timeout)
        for k in keys:
            outcomes[self._pending[k].action.value] += 1
        self._pending.clear()
        self._encoded.clear()
        return self._timed(self.name, len(keys), started, outcomes)

    def discard(self) -> None:
        super().discard()
        self._encoded.clear()
