"""Drift between MariaDB rows, Elasticsearch tags and the stream's latest revisions: the pure core.

The invariant ``addlink reconcile`` protects, for every page of an enabled wiki: either exactly the
row of the page's latest revision exists with data and the page carries ``recommendation.link/exists``,
or no row with data and no tag. No row or tag of an older revision, none of a deleted or hidden page,
no tag without its row, no data row without its tag. A NULL ``gelr_data`` row ("evaluated, nothing
usable") of the latest revision is legitimate and carries no tag.

Latest revision: the highest of what Redis knows (:class:`stream.pipeline.state.PageRecord`) and the page's
newest row (data or NULL). Redis can be behind the rows (it lost its state, or a key expired), never
the other way round in a healthy pipeline, so the maximum is the best knowledge available.

Removed: Redis holds a tombstone (page deleted or content hidden) at a revision at least as new as
every row. A tombstone older than a row is out of date and ignored (the row proves the page lived on).

Drift kinds (:class:`Drift`), counted per page; one page may show more than one:

``removed_page_row``  the page is removed, yet rows or the tag remain.
                      Fix: delete those rows, clear the tag. (No other kind is reported for it.)
``stale_row``         rows (data or NULL) of revisions older than the latest revision.
                      Fix: delete exactly those revisions; clear the tag when no data row of the
                      latest revision remains.
``tag_without_row``   the tag is set but the page has no data row at all. Fix: clear the tag.
``row_without_tag``   a data row of the latest revision exists, the tag is not set. Fix: set the tag.

What is deliberately NOT checked: whether a stored recommendation is still right for its revision
(rules, model, thresholds); that is revalidation, not reconciliation. Pages the stream never saw and
that have neither rows nor a tag are consistent by definition.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from sinks.base import TagAction
from stream.pipeline.state import PageRecord

SAMPLE_SIZE = 10
"""Page ids kept per kind for the report (the counts are always complete)."""


class Drift(StrEnum):
    REMOVED_PAGE_ROW = "removed_page_row"
    STALE_ROW = "stale_row"
    TAG_WITHOUT_ROW = "tag_without_row"
    ROW_WITHOUT_TAG = "row_without_tag"


@dataclass(frozen=True)
class PageView:
    """One page as the three stores show it.

    ``rows``: revision id -> True if its ``gelr_data`` is not NULL (every row of the page).
    ``tagged``: the page's document carries ``recommendation.link/exists``.
    ``known``: Redis' record of the page, None when Redis does not know it.
    """

    page_id: int
    rows: Mapping[int, bool]
    tagged: bool
    known: PageRecord | None = None


@dataclass(frozen=True)
class Repair:
    """What brings one page back to the invariant: delete these revisions' rows, then set or clear
    the tag (None: leave it). Idempotent: applying it twice changes nothing more."""

    delete_revisions: tuple[int, ...] = ()
    tag: TagAction | None = None


@dataclass(frozen=True)
class PageDrift:
    page_id: int
    kinds: frozenset[Drift]
    repair: Repair


def latest_revision(view: PageView) -> int | None:
    """The newest revision known for the page: Redis' or its newest row's, whichever is higher."""
    candidates = [*view.rows, *([view.known.rev_id] if view.known else [])]
    return max(candidates) if candidates else None


def is_removed(view: PageView) -> bool:
    """Redis tombstoned the page at a revision no row is newer than."""
    if view.known is None or not view.known.removed:
        return False
    return all(rev <= view.known.rev_id for rev in view.rows)


def assess(view: PageView) -> PageDrift | None:
    """The page's drift and its repair, or None if the page satisfies the invariant."""
    if is_removed(view):
        if not view.rows and not view.tagged:
            return None
        return PageDrift(view.page_id, frozenset({Drift.REMOVED_PAGE_ROW}),
                         Repair(tuple(sorted(view.rows)), TagAction.CLEAR if view.tagged else None))
    latest = latest_revision(view)
    stale = tuple(sorted(rev for rev in view.rows if latest is not None and rev < latest))
    current_data = latest is not None and view.rows.get(latest, False)
    kinds: set[Drift] = set()
    if stale:
        kinds.add(Drift.STALE_ROW)
    if view.tagged and not any(view.rows.values()):
        kinds.add(Drift.TAG_WITHOUT_ROW)
    if current_data and not view.tagged:
        kinds.add(Drift.ROW_WITHOUT_TAG)
    tag: TagAction | None = None
    if view.tagged and not current_data:
        tag = TagAction.CLEAR  # tag_without_row, or a stale data row was all that backed it
    elif current_data and not view.tagged:
        tag = TagAction.SET
    if not kinds:
        return None
    return PageDrift(view.page_id, frozenset(kinds), Repair(stale, tag))


def candidates(views: Iterable[PageView]) -> list[PageDrift]:
    """The drifting pages of a batch, in the order given."""
    return [drift for drift in map(assess, views) if drift is not None]


def _zero() -> dict[Drift, int]:
    return dict.fromkeys(Drift, 0)


@dataclass
class Report:
    """Counts of one run. ``found`` = pages whose drift was confirmed by a fresh read; ``fixed`` =
    pages repaired and read back consistent; ``resolved_meanwhile`` = candidates of a batch read
    that were consistent when re-read (the consumer finished a write in between)."""

    wiki: str
    fix: bool
    pages_checked: int = 0
    resolved_meanwhile: int = 0
    found: dict[Drift, int] = field(default_factory=_zero)
    fixed: dict[Drift, int] = field(default_factory=_zero)
    samples: dict[Drift, list[int]] = field(default_factory=lambda: {kind: [] for kind in Drift})
    seconds: float = 0.0

    def record(self, drift: PageDrift, *, fixed: bool) -> None:
        for kind in drift.kinds:
            self.found[kind] += 1
            if fixed:
                self.fixed[kind] += 1
            if len(self.samples[kind]) < SAMPLE_SIZE:
                self.samples[kind].append(drift.page_id)

    @property
    def remaining(self) -> dict[Drift, int]:
        return {kind: self.found[kind] - self.fixed[kind] for kind in Drift}

    @property
    def exit_code(self) -> int:
        """0 when nothing drifts any more, 1 when some drift remains (always, without --fix)."""
        return 1 if any(self.remaining.values()) else 0

    def as_json(self) -> dict[str, object]:
        def named(counts: Mapping[Drift, object]) -> dict[str, object]:
            return {str(kind): counts[kind] for kind in Drift}

        return {
            "wiki": self.wiki,
            "fix": self.fix,
            "pages_checked": self.pages_checked,
            "drift": named(self.found),
            "fixed": named(self.fixed),
            "remaining": named(self.remaining),
            "resolved_meanwhile": self.resolved_meanwhile,
            "samples": named(self.samples),
            "seconds": round(self.seconds, 3),
        }

    def summary(self) -> str:
        """Human-readable: one line of totals, then one line per kind."""
        pages = sum(self.found.values())
        mode = "fixed" if self.fix else "dry run, nothing changed"
        lines = [f"{self.wiki}: {self.pages_checked} pages checked in {self.seconds:.1f} s, "
                 f"{pages} drift findings ({mode}); {self.resolved_meanwhile} resolved meanwhile by the consumer"]
        lines.append(f"  {'kind':<18} {'found':>7} {'fixed':>7} {'remaining':>9}  sample page ids")
        for kind in Drift:
            sample = " ".join(map(str, self.samples[kind]))
            lines.append(f"  {kind:<18} {self.found[kind]:>7} {self.fixed[kind]:>7} {self.remaining[kind]:>9}  {sample}")
        return "\n".join(lines)
