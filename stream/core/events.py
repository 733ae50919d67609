"""Models of the events the stream reads and writes internally.

- `PageChangeEvent`: `mediawiki/page/change` 1.x, the schema of `mediawiki.page_change.v1` and
  of the wikitext-enriched `mediawiki.page_content_change.v1` (reference events-and-search.md §1-§2).
  Only the fields we read are modelled; unknown fields are ignored, because 1.x grows additively
  (real events carry up to 1.11.0). Types are checked strictly: a string where the schema has an
  integer is an invalid event, not something to coerce.
- `WorkItem`: what ingest forwards to the internal work topic (JSON), one per revision to score.
- `SourceMessage`: a Kafka record as received, kept beside the parsed event so any failure can
  become an error event carrying the raw bytes.
- Kafka message keys: `{"wiki_id": ..., "page_id": ...}` as compact JSON, byte for byte what
  EventGate writes on Wikimedia's page streams (see tests: a recorded key decodes to the same bytes).

What the event can and cannot tell the eligibility rules:
- Change tags are NOT in `page/change` (no 1.x version has them), so "the last edit is an Add-a-Link
  edit" cannot be read from the event; it is decided from growthexperiments_link_submissions
  (`gels_edit_revision`), see stream/core/eligibility.py.
- `revision.revert` (1.9.0+) carries the reverted range `rev_reverted_oldest_id..newest_id`, the same
  data GrowthExperiments reads from the revert change tag; older events have no revert information.
- `content_body` is only on the enriched stream and only when the enrichment could fetch it: never
  on `page_change.v1`, not for hidden (revision-deleted) content, not on deletes, and missing after
  enrichment failures. `missing_content_reason` says which; that is normal, not an error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

SCHEMA_PREFIX = "/mediawiki/page/change/1."
MAIN_SLOT = "main"
WIKITEXT = "wikitext"
CANARY_DOMAIN = "canary"

PageChangeKind = Literal["create", "edit", "move", "delete", "undelete", "visibility_change"]
ChangelogKind = Literal["insert", "update", "delete"]

_MAX_ID = 9_007_199_254_740_991  # the schema's maximum for ids (2^53 - 1)
MAX_STORED_ID = 2**32 - 1  # GrowthExperiments' gelr_page / gelr_revision are INT UNSIGNED


class InvalidEvent(ValueError):
    """The bytes are not a valid event: malformed JSON, wrong types or missing required fields.

    The message names each problem (dotted field path, "; "-separated); it never includes field
    values, which may be whole articles.
    """


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", strict=True, populate_by_name=True)


class EventMeta(_Model):
    stream: str = Field(min_length=1)
    domain: str | None = None
    dt: AwareDatetime | None = None  # when EventGate received the event
    id: str | None = None  # UUID per event
    uri: str | None = None
    request_id: str | None = None


class PageEntity(_Model):
    """`page` (and `created_redirect_page`). `page_title` is the prefixed DB key (underscores)."""

    page_id: int = Field(ge=0, le=_MAX_ID)
    page_title: str = Field(min_length=1)
    namespace_id: int | None = Field(default=None, ge=0)
    # Absent on some kinds (e.g. visibility_change); absent means "not known to be a redirect".
    is_redirect: bool = False


class PriorPage(_Model):
    """`prior_state.page`: only the fields that changed (a move gives the old title/namespace)."""

    page_id: int | None = None
    page_title: str | None = None
    namespace_id: int | None = None
    is_redirect: bool | None = None


class ContentSlot(_Model):
    content_model: str | None = None
    content_format: str | None = None
    content_size: int | None = None
    content_sha1: str | None = None
    origin_rev_id: int | None = None
    content_body: str | None = None  # only on the enriched stream


class RevisionRevert(_Model):
    """`revision.revert` (1.9.0+): this revision reverts `rev_reverted_oldest_id..newest_id`."""

    method: str | None = None  # rollback, undo, manual
    is_exact: bool | None = None
    rev_original_id: int | None = None
    rev_reverted_oldest_id: int | None = None
    rev_reverted_newest_id: int | None = None

    @property
    def reverted_range(self) -> tuple[int, int] | None:
        """Inclusive (oldest, newest) reverted revision ids, or None when the event lacks them."""
        if self.rev_reverted_oldest_id is None or self.rev_reverted_newest_id is None:
            return None
        return (self.rev_reverted_oldest_id, self.rev_reverted_newest_id)


class Revision(_Model):
    rev_id: int = Field(ge=0, le=_MAX_ID)
    rev_dt: AwareDatetime
    rev_parent_id: int | None = None
    # EventBus always sets the visibility flags; absent only in hand-made events, read as visible.
    is_content_visible: bool = True
    content_slots: dict[str, ContentSlot] = Field(default_factory=dict)
    revert: RevisionRevert | None = None


class PriorRevision(_Model):
    """`prior_state.revision`: the parent revision on edits, only changed flags on visibility_change."""

    rev_id: int | None = None
    rev_dt: AwareDatetime | None = None
    is_content_visible: bool | None = None


class PriorState(_Model):
    page: PriorPage | None = None
    revision: PriorRevision | None = None


class PageChangeEvent(_Model):
    """A `mediawiki/page/change` 1.x event (page_change or page_content_change stream)."""

    schema_uri: str = Field(alias="$schema")
    meta: EventMeta
    dt: AwareDatetime  # event time: the revision timestamp for create/edit/move
    wiki_id: str = Field(min_length=1)
    changelog_kind: ChangelogKind
    page_change_kind: PageChangeKind
    page: PageEntity
    revision: Revision
    prior_state: PriorState | None = None
    created_redirect_page: PageEntity | None = None
    comment: str | None = None

    @field_validator("schema_uri")
    @classmethod
    def _page_change_1x(cls, value: str) -> str:
        if not value.startswith(SCHEMA_PREFIX):
            raise ValueError(f"unsupported schema; expected {SCHEMA_PREFIX}x")
        return value

    @property
    def main_slot(self) -> ContentSlot | None:
        return self.revision.content_slots.get(MAIN_SLOT)


def parse_event(raw: bytes) -> PageChangeEvent:
    """Validate one Kafka message value; InvalidEvent (one line per problem) if it is not an event."""
    try:
        return PageChangeEvent.model_validate_json(raw)
    except ValidationError as error:
        raise InvalidEvent(_describe(error, "invalid mediawiki/page/change event")) from None


def is_canary(event: PageChangeEvent) -> bool:
    """Canary (heartbeat) events are injected into every stream; consumers drop them."""
    return event.meta.domain == CANARY_DOMAIN


def content_body(event: PageChangeEvent) -> str | None:
    """The main slot's wikitext when the event carries it and it is usable, else None."""
    if missing_content_reason(event) is not None:
        return None
    slot = event.main_slot
    assert slot is not None and slot.content_body is not None  # checked just above
    return slot.content_body


def missing_content_reason(event: PageChangeEvent) -> str | None:
    """Why the event carries no usable wikitext ("no content"), or None when it does."""
    if event.page_change_kind == "delete":
        return "page deleted"
    if not event.revision.is_content_visible:
        return "content hidden"
    slot = event.main_slot
    if slot is None:
        return "no main slot"
    if slot.content_model != WIKITEXT:
        return f"content model {slot.content_model or 'unknown'}, not wikitext"
    if slot.content_body is None:
        return "no content body (page_change stream or enrichment gap)"
    return None


def titles_gone(event: PageChangeEvent) -> tuple[str, ...]:
    """Main-namespace titles this event leaves without a page: a deleted page's title, or the old
    title of a page moved away without leaving a redirect (a left redirect still exists, and gets
    its own create event). Titles are DB keys as in the event (underscores)."""
    if event.page_change_kind == "delete" and event.page.namespace_id == 0:
        return (event.page.page_title,)
    if event.page_change_kind == "move" and event.created_redirect_page is None:
        prior = event.prior_state.page if event.prior_state else None
        if prior is not None and prior.page_title is not None:
            namespace = prior.namespace_id if prior.namespace_id is not None else event.page.namespace_id
            if namespace == 0:
                return (prior.page_title,)
    return ()


def titles_created(event: PageChangeEvent) -> tuple[tuple[str, int], ...]:
    """(title, page id) of the main-namespace titles that have a page after this event: the page
    created, undeleted or moved there, and the redirect a move left at the old title (a new page id,
    the one GrowthExperiments now maps that title to)."""
    created: list[tuple[str, int]] = []
    if event.page_change_kind in ("create", "undelete", "move") and event.page.namespace_id == 0:
        created.append((event.page.page_title, event.page.page_id))
    redirect = event.created_redirect_page
    if event.page_change_kind == "move" and redirect is not None and redirect.namespace_id == 0:
        created.append((redirect.page_title, redirect.page_id))
    return tuple(created)


# --- Kafka message keys ---------------------------------------------------------------------


class MessageKey(_Model):
    wiki_id: str = Field(min_length=1)
    page_id: int = Field(ge=0, le=_MAX_ID)


def wiki_domain(wiki_id: str, language: str | None = None) -> str:
    """`elwiki` -> `el.wikipedia.org` (the configured language wins over the id's prefix)."""
    code = language or wiki_id.removesuffix("wiki").replace("_", "-")
    return f"{code}.wikipedia.org"


def encode_key(wiki_id: str, page_id: int) -> bytes:
    """The key Wikimedia's page streams use: compact JSON, wiki_id first."""
    return json.dumps({"wiki_id": wiki_id, "page_id": page_id}, separators=(",", ":"), ensure_ascii=False).encode()


def decode_key(raw: bytes) -> MessageKey:
    """Parse a page-stream key; InvalidEvent if it is not `{"wiki_id": str, "page_id": int}`."""
    try:
        return MessageKey.model_validate_json(raw)
    except ValidationError as error:
        raise InvalidEvent(_describe(error, "invalid message key")) from None


# --- the internal work topic -----------------------------------------------------------------


@dataclass(frozen=True)
class SourceMessage:
    """A Kafka record as consumed: where it came from and its raw bytes."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp_ms: int | None


class WorkItem(_Model):
    """One revision to evaluate once its quiet period has passed (JSON on the work topic).

    `dt` is the revision timestamp (what minimumTimeSinceLastEdit counts from); `event_dt` is the
    event's own time (for a delete or visibility change: when that happened). The text travels
    inline in `wikitext` (from the event, or fetched by ingest when the event has none; None for
    removals and revisions without public wikitext): Kafka may hold article text, Redis and process
    memory across the quiet period may not. `source_topic/partition/offset` name the source
    message the item came from, for tracing only: nothing re-reads it.
    Unknown fields are ignored so that workers and ingest can be upgraded one after the other.
    """

    format_version: Literal[1] = 1
    wiki_id: str = Field(min_length=1)
    page_id: int = Field(ge=0, le=_MAX_ID)
    page_title: str = Field(min_length=1)
    namespace_id: int | None = None
    is_redirect: bool = False
    rev_id: int = Field(ge=0, le=_MAX_ID)
    dt: AwareDatetime
    event_dt: AwareDatetime
    domain: str | None = None
    request_id: str | None = None
    page_change_kind: PageChangeKind
    content_model: str | None = None
    is_content_visible: bool = True
    revert: RevisionRevert | None = None
    source_topic: str
    source_partition: int = Field(ge=0)
    source_offset: int = Field(ge=0)
    wikitext: str | None = None
    rescore: bool = False
    """Evaluate again even if the revision has a row (``addlink rescore``: made by an older model)."""

    @classmethod
    def from_event(cls, event: PageChangeEvent, source: SourceMessage, *, include_wikitext: bool) -> WorkItem:
        slot = event.main_slot
        return cls(
            wiki_id=event.wiki_id,
            page_id=event.page.page_id,
            page_title=event.page.page_title,
            namespace_id=event.page.namespace_id,
            is_redirect=event.page.is_redirect,
            rev_id=event.revision.rev_id,
            dt=event.revision.rev_dt,
            event_dt=event.dt,
            domain=event.meta.domain,
            request_id=event.meta.request_id,
            page_change_kind=event.page_change_kind,
            content_model=slot.content_model if slot else None,
            is_content_visible=event.revision.is_content_visible,
            revert=event.revision.revert,
            source_topic=source.topic,
            source_partition=source.partition,
            source_offset=source.offset,
            wikitext=content_body(event) if include_wikitext else None,
        )

    def key(self) -> bytes:
        """The work-topic key: the same JSON key as the source streams, so per-page order holds."""
        return encode_key(self.wiki_id, self.page_id)

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


def parse_work_item(raw: bytes) -> WorkItem:
    """Validate one work-topic message; InvalidEvent if it is not a WorkItem."""
    try:
        return WorkItem.model_validate_json(raw)
    except ValidationError as error:
        raise InvalidEvent(_describe(error, "invalid work item")) from None


def _describe(error: ValidationError, what: str) -> str:
    lines = []
    for item in error.errors(include_input=False, include_url=False):
        path = ".".join(str(part) for part in item["loc"]) or "(event)"
        lines.append(f"{path}: {item['msg'].removeprefix('Value error, ')}")
    return f"{what}: " + "; ".join(lines)


def require_storable_ids(event: PageChangeEvent) -> None:
    """InvalidEvent unless the page and revision ids fit GrowthExperiments' INT UNSIGNED columns
    (1..2^32-1). The schema allows 0..2^53-1, so a valid event can still be unusable for an enabled
    wiki; it goes to the error topic instead of failing in a sink."""
    for name, value in (("page.page_id", event.page.page_id), ("revision.rev_id", event.revision.rev_id)):
        if not 1 <= value <= MAX_STORED_ID:
            raise InvalidEvent(f"{name}: {value} does not fit GrowthExperiments' INT UNSIGNED columns (1..{MAX_STORED_ID})")
