"""What every sink shares: the buffer/flush contract, the error tree, tag changes, Kafka delivery.

Error tree (the pipeline decides what to do; a sink never swallows a failure)::

    SinkError                 the write did not happen and retrying as is will not help
    |                         (bad credentials, SQL or mapping error, message too large)
    +-- TransientSinkError    the service is unreachable, overloaded, read-only or the
                              connection dropped; back off and call flush() again

Buffer contract (all sinks): ``add()`` only buffers. ``flush()`` writes the whole buffer and either
returns a :class:`FlushResult` (everything is durable in the service) or raises; on a raise the
buffer is kept, so calling ``flush()`` again re-sends the same writes. Every write is idempotent,
so re-sending after a partial success, or re-delivery after a crash, changes nothing.
``discard()`` (after a partition rebalance) and ``close()`` drop what was never flushed: its
offsets were not committed, so Kafka delivers it again, to whichever consumer owns it now.
"""

from __future__ import annotations

import json
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Generic, Protocol, TypeVar

LINK_TAG_PREFIX = "recommendation.link"
"""Weighted-tag prefix of Add a Link (GrowthExperiments LinkRecommendationTaskTypeHandler)."""
LINK_TAG_NAME = "exists"
"""Tag name GrowthExperiments sets (no weight): index token ``recommendation.link/exists``."""

_WIKI_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class SinkError(Exception):
    """A write failed; retrying the same request will not help without a change somewhere."""


class TransientSinkError(SinkError):
    """The service could not be reached or refused for now; back off and flush again."""


def validate_wiki_id(wiki_id: str) -> str:
    """Return ``wiki_id`` if it is a MediaWiki database name (``[a-z][a-z0-9_]*``, <= 64 chars).

    Wiki ids become SQL database names and Elasticsearch index names, which cannot be bound as
    parameters; this check is what keeps them from carrying anything else.
    """
    if not isinstance(wiki_id, str) or not _WIKI_ID.fullmatch(wiki_id):
        raise ValueError(f"not a wiki id: {wiki_id!r} (expected [a-z][a-z0-9_]*, at most 64 chars)")
    return wiki_id


def utc_iso(moment: datetime | None = None) -> str:
    """ISO-8601 UTC timestamp with a ``Z`` suffix, as Wikimedia events carry (``now`` by default)."""
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("naive datetime: event times must carry a time zone")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class FlushResult:
    """What one flush did, for the pipeline's metrics (sink latency, results by kind)."""

    sink: str
    operations: int
    seconds: float
    outcomes: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Fence:
    """The freshest revision recorded for a page, and whether it was removed at that revision."""

    rev_id: int
    removed: bool

    def admits(self, rev_id: int, *, removal: bool) -> bool:
        """Whether a write for ``rev_id`` may still land: a newer revision invalidated it, and a
        tombstone at the same revision admits only removals."""
        return rev_id >= self.rev_id and (removal or not (rev_id == self.rev_id and self.removed))


class Freshness(StrEnum):
    """How a :class:`PageWrite` moves the page's fence (its revision only ever goes up)."""

    CURRENT = "current"  # the revision is current: a newer one makes it stale; a tombstone at it stays
    REVIVE = "revive"  # undelete / content shown again: lifts a tombstone at the same revision
    REMOVED = "removed"  # deleted / content hidden / moved out at this revision: tombstone


@dataclass(frozen=True)
class PageWrite:
    """Bring a page to the state of ``rev_id``, applied only if the revision is still the page's
    freshest (compare-and-set, see :meth:`RecommendationStore.flush`).

    ``delete_below``: delete the page's rows of revisions lower than this (None: none).
    ``write_row``: then write the revision's row, ``data`` bytes or None for the NULL row.
    """

    wiki_id: str
    page_id: int
    rev_id: int
    freshness: Freshness = Freshness.CURRENT
    delete_below: int | None = None
    write_row: bool = False
    data: bytes | None = None


FenceReader = Callable[[str, Sequence[int]], Mapping[int, Fence]]
"""(wiki, page ids) -> committed fences of those pages (``RecommendationStore.fences``)."""

T = TypeVar("T")


class Sink(ABC, Generic[T]):
    """A buffered writer: ``add()`` per item, ``flush()`` at checkpoint time (see module doc).

    Not thread-safe unless a subclass says so: one pipeline thread adds and flushes.
    """

    name: ClassVar[str]

    def setup(self) -> None:
        """Check the service is reachable and usable; raises SinkError naming what is wrong."""

    @abstractmethod
    def add(self, item: T) -> None:
        """Buffer one write; raises ValueError at once for an item that can never be written."""

    @abstractmethod
    def flush(self) -> FlushResult:
        """Write the buffer (one transaction / bulk / producer flush); raise on any failure."""

    @property
    @abstractmethod
    def pending(self) -> int:
        """Writes buffered and not yet flushed."""

    @abstractmethod
    def discard(self) -> None:
        """Drop every buffered write (their offsets were not committed: Kafka delivers them again)."""

    def close(self) -> None:
        """Drop unflushed writes and release connections."""
        self.discard()

    @staticmethod
    def _timed(sink: str, operations: int, started: float, outcomes: Mapping[str, int]) -> FlushResult:
        return FlushResult(sink, operations, time.monotonic() - started, dict(outcomes))


# --------------------------------------------------------------------------- weighted tags


class TagAction(StrEnum):
    SET = "set"
    CLEAR = "clear"


@dataclass(frozen=True)
class TagChange:
    """Set or clear the ``recommendation.link`` tag of one page.

    ``page_title`` (DB key, underscores), ``domain`` and ``dt`` are only needed by the event sink;
    the Elasticsearch sink uses ``wiki_id`` and ``page_id``. ``rev_based`` may only be true for a
    clear triggered by a new revision (GrowthExperiments' edit invalidation); a set never carries it.
    ``rev_id``: the revision the change is for; with it the change is compare-and-set on the page's
    fence (dropped when a newer revision invalidated it), without it unconditional (reconcile's clear of
    a page nothing is known about).
    """

    wiki_id: str
    page_id: int
    action: TagAction
    page_title: str | None = None
    namespace_id: int = 0
    is_redirect: bool | None = None
    rev_based: bool = False
    dt: datetime | None = None
    domain: str | None = None
    request_id: str | None = None
    rev_id: int | None = None

    def __post_init__(self) -> None:
        validate_wiki_id(self.wiki_id)
        if isinstance(self.page_id, bool) or not isinstance(self.page_id, int) or self.page_id <= 0:
            raise ValueError(f"page_id must be a positive int, got {self.page_id!r}")
        if self.rev_based and self.action is TagAction.SET:
            raise ValueError("rev_based is only meaningful for a revision-triggered clear")
        if self.dt is not None and self.dt.tzinfo is None:
            raise ValueError("dt must carry a time zone")

    @property
    def key(self) -> tuple[str, int]:
        return (self.wiki_id, self.page_id)


class TagSink(Sink[TagChange]):
    """Common front of the two tag writers (Elasticsearch directly, or weighted-tags events).

    Within one flush only the last change per page is written: every change replaces the whole
    ``recommendation.link`` group, so the last one alone decides the page's final state.

    ``fences`` (the row store's committed fences) makes changes that carry a ``rev_id``
    compare-and-set: a subclass calls :meth:`_stale` as late as it can before writing and drops
    the changes whose revision a newer one invalidated meanwhile (see sinks/elasticsearch.py for
    why reading the fence after reading the document closes the race).
    """

    def __init__(self, fences: FenceReader | None = None) -> None:
        self._pending: dict[tuple[str, int], TagChange] = {}
        self._fences = fences

    def add(self, item: TagChange) -> None:
        self._check(item)
        self._pending.pop(item.key, None)  # re-insert so flush order follows the latest change
        self._pending[item.key] = item

    def set_link_tag(self, wiki_id: str, page_id: int, **page: Any) -> None:
        """Buffer ``recommendation.link/exists`` for the page (``page``: TagChange's optional fields)."""
        self.add(TagChange(wiki_id, page_id, TagAction.SET, **page))

    def clear_link_tag(self, wiki_id: str, page_id: int, **page: Any) -> None:
        """Buffer removal of the whole ``recommendation.link`` group of the page."""
        self.add(TagChange(wiki_id, page_id, TagAction.CLEAR, **page))

    @property
    def pending(self) -> int:
        return len(self._pending)

    def discard(self) -> None:
        self._pending.clear()

    def _check(self, item: TagChange) -> None:
        """Subclasses reject at add() time what they could never write."""

    def withdraw_set(self, wiki_id: str, page_id: int) -> bool:
        """Drop the page's pending *set* (its row could not be written: no tag without its row).
        A pending clear stays. True if a set was dropped."""
        change = self._pending.get((wiki_id, page_id))
        if change is None or change.action is not TagAction.SET:
            return False
        del self._pending[(wiki_id, page_id)]
        return True

    def _stale(self, changes: Sequence[TagChange]) -> set[tuple[str, int]]:
        """Keys of the changes a newer revision of their page invalidated (their fence moved on)."""
        if self._fences is None:
            return set()
        stale: set[tuple[str, int]] = set()
        by_wiki: dict[str, list[TagChange]] = {}
        for change in changes:
            if change.rev_id is not None:
                by_wiki.setdefault(change.wiki_id, []).append(change)
        for wiki_id, guarded in by_wiki.items():
            fences = self._fences(wiki_id, [change.page_id for change in guarded])
            for change in guarded:
                fence = fences.get(change.page_id)
                if fence is not None and not fence.admits(change.rev_id or 0, removal=change.action is TagAction.CLEAR):
                    stale.add(change.key)
        return stale


# --------------------------------------------------------------------------- Kafka delivery


class Producer(Protocol):
    """The part of a Kafka producer the event sinks use.

    ``confluent_kafka.Producer`` satisfies it as is. A kafka-python wrapper calls
    ``on_delivery(error, None)`` from the send future (``error`` None on success).
    """

    def produce(
        self, topic: str, *, value: bytes, key: bytes | None, on_delivery: Callable[[Any, Any], None]
    ) -> None: ...

    def flush(self, timeout: float) -> int:
        """Block until delivered or timeout; returns the number of messages still undelivered."""
        ...


# Delivery errors that another attempt cannot fix (librdkafka error names, kafka-python class
# names). Everything else (timeouts, brokers down, leader changes, ...) is worth a retry.
_PERMANENT_DELIVERY_ERRORS = frozenset({
    "MSG_SIZE_TOO_LARGE", "_MSG_SIZE_TOO_LARGE", "RECORD_LIST_TOO_LARGE", "INVALID_RECORD",
    "TOPIC_AUTHORIZATION_FAILED", "CLUSTER_AUTHORIZATION_FAILED", "SASL_AUTHENTICATION_FAILED",
    "_AUTHENTICATION", "MessageSizeTooLargeError", "RecordListTooLargeError", "InvalidRecordError",
    "TopicAuthorizationFailedError", "ClusterAuthorizationFailedError", "SaslAuthenticationFailedError",
})


def _permanent(error: Any) -> bool:
    fatal = getattr(error, "fatal", None)
    if callable(fatal) and fatal():
        return True
    name = error.name() if callable(getattr(error, "name", None)) else type(error).__name__
    return name in _PERMANENT_DELIVERY_ERRORS


def json_bytes(obj: Any) -> bytes:
    """Compact UTF-8 JSON (non-ASCII kept as is, like EventGate's output)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def deliver(
    producer: Producer, topic: str, messages: Iterable[tuple[bytes | None, bytes]], timeout: float
) -> int:
    """Produce ``(key, value)`` messages to ``topic`` and wait until the broker acknowledged each.

    Returns the number delivered. Raises SinkError when a delivery failed for a reason another
    attempt cannot fix (message too large, not authorized, fatal producer error), else
    TransientSinkError (timeouts, brokers down, not acknowledged in time). Nothing is lost
    silently: a message counts as delivered only when its delivery report says so.
    """
    errors: list[Any] = []
    acked = 0

    def on_delivery(err: Any, _msg: Any) -> None:
        nonlocal acked
        if err is None:
            acked += 1
        else:
            errors.append(err)

    sent = 0
    for key, value in messages:
        try:
            try:
                producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
            except BufferError:  # local queue full: drain it once, then try again
                producer.flush(timeout)
                producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
        except BufferError as exc:
            raise TransientSinkError(f"producer queue for {topic} stays full: {exc}") from exc
        except Exception as exc:  # e.g. message too large: a permanent failure, with context
            raise SinkError(f"cannot produce to {topic}: {exc}") from exc
        sent += 1
    left = producer.flush(timeout)
    if errors:
        kind = SinkError if any(_permanent(e) for e in errors) else TransientSinkError
        raise kind(f"{len(errors)} of {sent} messages to {topic} failed: {errors[0]}")
    if left or acked != sent:
        raise TransientSinkError(f"{sent - acked} of {sent} messages to {topic} not acknowledged in {timeout}s")
    return acked
