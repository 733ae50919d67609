"""What happens to a page, decided in one pure place: ``decide(facts, change, evaluation) -> writes``,
and beside it ``assess(view) -> drift`` for reconcile, with the same staleness rule and writes.

Ingest, the worker and reconcile only gather facts (Redis' record, the newest stored row, what this process
handled, the revision's own row) and apply the writes this module returns; freshness is decided by
:func:`superseded` alone. The writes are applied compare-and-set: the row write is a
``sinks.mariadb.PageWrite`` checked against the page's fence in the same transaction, and each tag
change carries its revision so the tag sinks check the same fence just before writing. The checks
here only save work; the fence is what keeps an older revision from landing after a newer one.

Cases (``change.kind``):

``revision``  ingest saw a new revision: invalidate the older rows and the tag at once, unless
              nothing can exist yet (a page created with no row stored) or the revision's own row
              is what is stored (a duplicate event).
``removal``   delete, content hidden, moved out of the content namespaces: every row up to the
              revision gone, tag cleared, fence tombstoned.
``evaluated`` the worker evaluated the revision: older rows gone, the row the evaluation asks for
              written (data on success, NULL when GrowthExperiments would write one), the tag set
              exactly when the revision's row ends with data. A rescore also replaces the
              revision's own row: what the new model decides is all that stays.
``redirect``  the revision is a redirect: no row of the page left up to it, tag cleared.

Reconcile (:func:`assess`) reads a page's rows, tag, Redis record and fence, and checks the invariant
these writes keep: either exactly the latest revision's row with data and the tag, or no data row
and no tag (a NULL row of the latest revision is legitimate and untagged); no row of a superseded
revision, nothing of a removed page. Its repairs are :class:`PageWrites` for the latest revision,
applied compare-and-set like every other write, so a repair decided on a state a newer revision
has since replaced is refused by the fence instead of undoing that revision's row or tag. Not
checked: whether a stored recommendation is still right for its revision (that is rescore's job).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from sinks.base import Fence, Freshness, PageWrite, TagAction, TagChange


@dataclass(frozen=True)
class PageRecord:
    """What the stream knows about a page (kept in Redis, stream/pipeline/state.py): the highest revision seen and whether it was removed."""

    rev_id: int
    removed: bool


class ChangeKind(StrEnum):
    REVISION = "revision"
    REMOVAL = "removal"
    EVALUATED = "evaluated"
    REDIRECT = "redirect"


@dataclass(frozen=True)
class PageFacts:
    """Freshness facts about one page, gathered by the caller.

    known: Redis' record (after the caller's own update, for ingest), None if unknown.
    stored: the newest revision with a row (committed, plus this process's buffered writes).
    handled: the newest revision this process brought the page to (worker), None if unknown.
    own_row: "none" | "data" | "null": the row of the change's revision, as stored.
    """

    known: PageRecord | None = None
    stored: int | None = None
    handled: int | None = None
    own_row: str = "none"


@dataclass(frozen=True)
class PageChange:
    """The revision a stage is handling. ``revive``: undelete or content shown again; ``rescore``:
    an evaluation that replaces the revision's own row (made by an older model)."""

    wiki_id: str
    page_id: int
    rev_id: int
    kind: ChangeKind
    revive: bool = False
    created: bool = False
    rescore: bool = False


@dataclass(frozen=True)
class Evaluation:
    """The worker's verdict on the revision: ``data`` (gelr JSON) on success, ``null_row`` when
    GrowthExperiments writes its NULL row, neither when nothing is written for the revision.
    ``cause``: why a scored page got nothing, finer than the outcome (metrics only)."""

    outcome: str
    data: bytes | None = None
    null_row: bool = False
    cause: str = ""


@dataclass(frozen=True)
class PageWrites:
    """What to apply: ``row`` (compare-and-set in MariaDB, None: nothing), then ``tag`` (None:
    leave it), ``rev_based`` for a revision-triggered clear. ``outcome`` is for the metrics."""

    row: PageWrite | None
    tag: TagAction | None
    outcome: str
    rev_based: bool = False


def superseded(facts: PageFacts, rev_id: int, *, removal: bool) -> bool:
    """True when a newer revision (or a tombstone of this one, for anything but a removal) is
    known anywhere: Redis, the stored rows, or what this process already handled."""
    known = facts.known
    return (
        (known is not None and (known.rev_id > rev_id or (known.rev_id == rev_id and known.removed and not removal)))
        or (facts.stored is not None and facts.stored > rev_id)
        or (facts.handled is not None and facts.handled > rev_id)
    )


def decide(facts: PageFacts, change: PageChange, evaluation: Evaluation | None = None) -> PageWrites | None:
    """The writes that bring the page to ``change``; None when the change is superseded.

    ``evaluation`` is required for ``evaluated`` changes and ignored otherwise.
    """
    removal = change.kind is ChangeKind.REMOVAL
    if superseded(facts, change.rev_id, removal=removal):
        return None
    page = (change.wiki_id, change.page_id, change.rev_id)
    if change.kind is ChangeKind.REVISION:
        if facts.stored == change.rev_id or (change.created and facts.stored is None):
            return PageWrites(None, None, "forwarded")  # nothing older can be stored or tagged
        freshness = Freshness.REVIVE if change.revive else Freshness.CURRENT
        return PageWrites(PageWrite(*page, freshness, delete_below=change.rev_id), TagAction.CLEAR, "invalidated",
                          rev_based=True)
    if change.kind in (ChangeKind.REMOVAL, ChangeKind.REDIRECT):
        freshness = Freshness.REMOVED if removal else Freshness.CURRENT
        return PageWrites(PageWrite(*page, freshness, delete_below=change.rev_id + 1), TagAction.CLEAR,
                          "removed" if removal else "redirect")
    if evaluation is None:
        raise ValueError("an evaluated change needs its evaluation")
    own_row = "none" if change.rescore else facts.own_row
    if evaluation.data is not None:
        own_row = "data"
    elif evaluation.null_row and own_row == "none":
        own_row = "null"
    writes_row = evaluation.data is not None or evaluation.null_row
    older_rows = facts.stored is not None and facts.stored < change.rev_id
    delete_below = change.rev_id + 1 if change.rescore else change.rev_id if older_rows else None
    row = None
    if writes_row or delete_below is not None or change.revive:  # a revive lifts the tombstone, or its tag is refused
        row = PageWrite(*page, Freshness.REVIVE if change.revive else Freshness.CURRENT, delete_below=delete_below,
                        write_row=writes_row, data=evaluation.data)
    return PageWrites(row, TagAction.SET if own_row == "data" else TagAction.CLEAR, evaluation.outcome)


class PageWriter(Protocol):
    """Where the row goes (``sinks.mariadb.RecommendationStore``); buffered."""

    def write_page(self, write: PageWrite) -> None: ...


class TagWriter(Protocol):
    """Where the tag change goes (a ``sinks.base.TagSink``); buffered."""

    def add(self, item: TagChange) -> None: ...


def apply(writes: PageWrites, rows: PageWriter, tags: TagWriter, page: TagChange) -> None:
    """Buffer ``writes``: the row first, then the tag (``page`` carries the tag's page fields and
    the revision, which makes the tag compare-and-set; its action and ``rev_based`` are the decision's)."""
    if writes.row is not None:
        rows.write_page(writes.row)
    if writes.tag is not None:
        tags.add(dataclasses.replace(page, action=writes.tag, rev_based=writes.rev_based))


class Drift(StrEnum):
    """How a page breaks the invariant (see the module docstring); one page may show several."""

    REMOVED_PAGE_ROW = "removed_page_row"  # the page is removed, yet rows or the tag remain (reported alone)
    STALE_ROW = "stale_row"  # rows (data or NULL) of superseded revisions
    TAG_WITHOUT_ROW = "tag_without_row"  # the tag is set, the page has no data row at all
    ROW_WITHOUT_TAG = "row_without_tag"  # the latest revision's row has data, the tag is not set


@dataclass(frozen=True)
class PageView:
    """One page as reconcile reads it.

    ``rows``: revision id -> True if its ``gelr_data`` is not NULL (every row of the page).
    ``tagged``: the page's document carries ``recommendation.link/exists``.
    ``known``: Redis' record, ``fence``: MariaDB's freshness fence; None when absent.
    """

    page_id: int
    rows: Mapping[int, bool]
    tagged: bool
    known: PageRecord | None = None
    fence: Fence | None = None


@dataclass(frozen=True)
class PageDrift:
    """A page's drift and the writes that repair it, for revision ``rev_id`` (the tag change's
    compare-and-set revision; None when nothing at all is known of the page)."""

    page_id: int
    kinds: frozenset[Drift]
    writes: PageWrites
    rev_id: int | None


def freshest(known: PageRecord | None, fence: Fence | None) -> PageRecord | None:
    """The newer of Redis' record and the fence. At one revision Redis' word wins: ingest records
    there before it commits the fence, so a disagreement is the fence still catching up; the fence
    covers what Redis lost or let expire."""
    if fence is None or (known is not None and known.rev_id >= fence.rev_id):
        return known
    return PageRecord(fence.rev_id, fence.removed)


def assess(wiki_id: str, view: PageView) -> PageDrift | None:
    """The page's drift and its repair, or None when the page keeps the invariant.

    Latest revision: the highest of the freshness facts and the rows; a row is stale when
    :func:`superseded` says so, and the page is removed when its latest revision is superseded
    (a tombstone no row is newer than). A removed page is repaired with :func:`decide`'s own
    removal writes; a live one by deleting the rows below the latest revision and setting the tag
    exactly when the latest revision's row has data.
    """
    newest_row = max(view.rows, default=None)
    facts = PageFacts(known=freshest(view.known, view.fence), stored=newest_row)
    revisions = [rev for rev in (newest_row, facts.known.rev_id if facts.known else None) if rev is not None]
    if not revisions:  # nothing known of the page: only a tag can be left, cleared unconditionally
        clear = PageWrites(None, TagAction.CLEAR, "repaired")
        return PageDrift(view.page_id, frozenset({Drift.TAG_WITHOUT_ROW}), clear, None) if view.tagged else None
    latest = max(revisions)
    if superseded(facts, latest, removal=False):
        if not view.rows and not view.tagged:
            return None
        removal = decide(facts, PageChange(wiki_id, view.page_id, latest, ChangeKind.REMOVAL))
        assert removal is not None  # a removal at the tombstone's own revision is never superseded
        return PageDrift(view.page_id, frozenset({Drift.REMOVED_PAGE_ROW}), removal, latest)
    stale = any(superseded(facts, rev, removal=False) for rev in view.rows)
    current_data = view.rows.get(latest, False)
    kinds = {kind for kind, drifts in ((Drift.STALE_ROW, stale),
                                       (Drift.TAG_WITHOUT_ROW, view.tagged and not any(view.rows.values())),
                                       (Drift.ROW_WITHOUT_TAG, current_data and not view.tagged)) if drifts}
    if not kinds:
        return None
    row = PageWrite(wiki_id, view.page_id, latest, Freshness.CURRENT, delete_below=latest) if stale else None
    tag = None
    if view.tagged != current_data:  # tag_without_row, a stale data row was all that backed it, or row_without_tag
        tag = TagAction.SET if current_data else TagAction.CLEAR
    return PageDrift(view.page_id, frozenset(kinds), PageWrites(row, tag, "repaired"), latest)
