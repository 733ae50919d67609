"""stream.core.page_core: one pure decision per page change, and the one freshness check."""

from __future__ import annotations

import pytest

from sinks.base import Fence, Freshness, PageWrite, TagAction
from stream.core.page_core import ChangeKind, Evaluation, PageChange, PageFacts, decide, superseded
from stream.core.page_core import PageRecord

W, P, R = "elwiki", 7, 100


def change(kind: ChangeKind, **extra) -> PageChange:
    return PageChange(W, P, R, kind, **extra)


@pytest.mark.parametrize("facts, removal, expected", [
    (PageFacts(), False, False),
    (PageFacts(known=PageRecord(R, False)), False, False),
    (PageFacts(known=PageRecord(R + 1, False)), False, True),
    (PageFacts(known=PageRecord(R, True)), False, True),  # an edit of a page deleted at that revision
    (PageFacts(known=PageRecord(R, True)), True, False),  # the removal itself
    (PageFacts(known=PageRecord(R + 1, True)), True, True),
    (PageFacts(stored=R + 1), False, True),
    (PageFacts(stored=R + 1), True, True),
    (PageFacts(stored=R), False, False),
    (PageFacts(handled=R + 1), False, True),
    (PageFacts(handled=R), False, False),
], ids=["nothing known", "current", "newer in redis", "tombstone", "removal at tombstone", "newer tombstone",
        "newer row", "newer row vs removal", "own row", "newer handled", "same handled"])
def test_superseded_is_the_one_freshness_check(facts: PageFacts, removal: bool, expected: bool) -> None:
    assert superseded(facts, R, removal=removal) is expected


@pytest.mark.parametrize("facts, kind, evaluation, row, tag, outcome", [
    # ingest: a new revision invalidates older rows and the tag at once, compare-and-set
    (PageFacts(stored=R - 5), ChangeKind.REVISION, None,
     PageWrite(W, P, R, Freshness.CURRENT, delete_below=R), TagAction.CLEAR, "invalidated"),
    (PageFacts(stored=R), ChangeKind.REVISION, None, None, None, "forwarded"),  # duplicate: own row stored
    # a removal tombstones the fence and removes every row up to the revision
    (PageFacts(), ChangeKind.REMOVAL, None,
     PageWrite(W, P, R, Freshness.REMOVED, delete_below=R + 1), TagAction.CLEAR, "removed"),
    (PageFacts(stored=R), ChangeKind.REDIRECT, None,
     PageWrite(W, P, R, Freshness.CURRENT, delete_below=R + 1), TagAction.CLEAR, "redirect"),
    # worker: success writes the row (older rows deleted) and sets the tag
    (PageFacts(stored=R - 1), ChangeKind.EVALUATED, Evaluation("success", data=b"{}"),
     PageWrite(W, P, R, Freshness.CURRENT, delete_below=R, write_row=True, data=b"{}"), TagAction.SET, "success"),
    (PageFacts(), ChangeKind.EVALUATED, Evaluation("good_links_count_too_small", null_row=True),
     PageWrite(W, P, R, Freshness.CURRENT, write_row=True), TagAction.CLEAR, "good_links_count_too_small"),
    # already stored: nothing written, the tag re-set (heals a crash between row and tag)
    (PageFacts(stored=R, own_row="data"), ChangeKind.EVALUATED, Evaluation("already_stored"),
     None, TagAction.SET, "already_stored"),
    (PageFacts(stored=R, own_row="null"), ChangeKind.EVALUATED, Evaluation("known_unavailable"),
     None, TagAction.CLEAR, "known_unavailable"),
    (PageFacts(), ChangeKind.EVALUATED, Evaluation("excluded_template"), None, TagAction.CLEAR, "excluded_template"),
], ids=["invalidate", "duplicate", "removal", "redirect", "success", "null row", "already stored",
        "known unavailable", "rule failed"])
def test_decide_gives_the_writes_of_every_case(facts, kind, evaluation, row, tag, outcome) -> None:
    writes = decide(facts, change(kind), evaluation)
    assert writes is not None
    assert (writes.row, writes.tag, writes.outcome) == (row, tag, outcome)
    assert writes.rev_based is (kind is ChangeKind.REVISION and row is not None)


def test_a_created_page_with_nothing_stored_needs_no_invalidation() -> None:
    writes = decide(PageFacts(), change(ChangeKind.REVISION, created=True))
    assert writes is not None and writes.row is None and writes.tag is None


def test_a_revive_lifts_the_tombstone_even_without_a_row_to_write() -> None:
    writes = decide(PageFacts(own_row="data"), change(ChangeKind.EVALUATED, revive=True), Evaluation("already_stored"))
    assert writes is not None and writes.row == PageWrite(W, P, R, Freshness.REVIVE) and writes.tag is TagAction.SET
    invalidation = decide(PageFacts(stored=R - 1), change(ChangeKind.REVISION, revive=True))
    assert invalidation is not None and invalidation.row is not None and invalidation.row.freshness is Freshness.REVIVE


def test_a_superseded_change_writes_nothing() -> None:
    assert decide(PageFacts(known=PageRecord(R + 1, False)), change(ChangeKind.EVALUATED), Evaluation("success")) is None
    assert decide(PageFacts(stored=R + 1), change(ChangeKind.REMOVAL)) is None


@pytest.mark.parametrize("fence, rev, removal, admitted", [
    (Fence(R, False), R, False, True),
    (Fence(R, False), R - 1, False, False),
    (Fence(R, False), R - 1, True, False),
    (Fence(R, True), R, False, False),
    (Fence(R, True), R, True, True),
    (Fence(R, True), R + 1, False, True),
])
def test_the_fence_admits_only_the_freshest_revision(fence: Fence, rev: int, removal: bool, admitted: bool) -> None:
    assert fence.admits(rev, removal=removal) is admitted


def test_a_rescore_replaces_the_revisions_own_row_with_what_the_new_model_decides() -> None:
    success = decide(PageFacts(stored=R, own_row="data"), change(ChangeKind.EVALUATED, rescore=True),
                     Evaluation("success", data=b"{}"))
    assert success is not None and success.tag is TagAction.SET
    assert success.row == PageWrite(W, P, R, Freshness.CURRENT, delete_below=R + 1, write_row=True, data=b"{}")
    nothing = decide(PageFacts(stored=R, own_row="data"), change(ChangeKind.EVALUATED, rescore=True),
                     Evaluation("all_recommendations_pruned", null_row=True))
    assert nothing is not None and nothing.tag is TagAction.CLEAR
    assert nothing.row == PageWrite(W, P, R, Freshness.CURRENT, delete_below=R + 1, write_row=True)
