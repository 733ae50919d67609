"""stream.core.page_core.assess: which state of rows, tag, Redis record and fence is drift, which
writes repair it, and why a repair decided on a state a newer revision replaced never lands;
stream.ops.drift.Report: the counts."""

from __future__ import annotations

import json

import pytest

from sinks.base import Fence, Freshness, PageWrite, TagAction
from stream.core.page_core import Drift, PageDrift, PageRecord, PageView, PageWrites, assess
from stream.ops.drift import SAMPLE_SIZE, Report

WIKI = "elwiki"
LIVE = PageRecord(rev_id=200, removed=False)
GONE = PageRecord(rev_id=200, removed=True)

CONSISTENT = [
    pytest.param(PageView(1, {200: True}, True, LIVE), id="row and tag of the latest revision"),
    pytest.param(PageView(1, {200: True}, True, None), id="row and tag, Redis does not know the page"),
    pytest.param(PageView(1, {200: False}, False, LIVE), id="NULL row of the latest revision, no tag"),
    pytest.param(PageView(1, {}, False, LIVE), id="no row, no tag (waiting for the quiet period)"),
    pytest.param(PageView(1, {}, False, GONE), id="removed page, nothing left"),
    pytest.param(PageView(1, {300: True}, True, GONE), id="tombstone older than the row is out of date"),
    pytest.param(PageView(1, {200: True}, True, None, Fence(200, False)), id="fence at the row's revision"),
    pytest.param(PageView(1, {200: True}, True, LIVE, Fence(200, True)),
                 id="undelete in flight: Redis, ahead of the fence at one revision, says live"),
]


@pytest.mark.parametrize("view", CONSISTENT)
def test_consistent_pages_are_not_drift(view: PageView) -> None:
    assert assess(WIKI, view) is None


def rows_below(rev: int, *, removed: bool = False) -> PageWrite:
    """The row write of a repair: rows below ``rev`` deleted (up to it, for a removal), fence raised."""
    if removed:
        return PageWrite(WIKI, 1, rev, Freshness.REMOVED, delete_below=rev + 1)
    return PageWrite(WIKI, 1, rev, Freshness.CURRENT, delete_below=rev)


DRIFTING = [
    pytest.param(PageView(1, {}, True, None), {Drift.TAG_WITHOUT_ROW}, None, TagAction.CLEAR, None,
                 id="tag without any row, nothing known: an unconditional clear"),
    pytest.param(PageView(1, {}, True, None, Fence(300, False)), {Drift.TAG_WITHOUT_ROW}, None, TagAction.CLEAR, 300,
                 id="tag without any row, the fence knows the revision"),
    pytest.param(PageView(1, {200: False}, True, LIVE), {Drift.TAG_WITHOUT_ROW}, None, TagAction.CLEAR, 200,
                 id="tag on a NULL row"),
    pytest.param(PageView(1, {200: True}, False, LIVE), {Drift.ROW_WITHOUT_TAG}, None, TagAction.SET, 200,
                 id="data row of the latest revision without its tag"),
    pytest.param(PageView(1, {100: True}, True, LIVE), {Drift.STALE_ROW}, rows_below(200), TagAction.CLEAR, 200,
                 id="tagged data row of a revision older than Redis knows"),
    pytest.param(PageView(1, {100: True}, True, None, Fence(200, False)), {Drift.STALE_ROW}, rows_below(200),
                 TagAction.CLEAR, 200, id="Redis lost the page: the fence knows the newer revision"),
    pytest.param(PageView(1, {100: True}, True, PageRecord(150, False), Fence(200, False)), {Drift.STALE_ROW},
                 rows_below(200), TagAction.CLEAR, 200, id="Redis behind the fence: the newer wins"),
    pytest.param(PageView(1, {100: False}, False, LIVE), {Drift.STALE_ROW}, rows_below(200), None, 200,
                 id="NULL row of an older revision"),
    pytest.param(PageView(1, {100: True, 200: True}, True, None), {Drift.STALE_ROW}, rows_below(200), None, 200,
                 id="older row beside the current one, Redis unknown: the newest row is the latest"),
    pytest.param(PageView(1, {100: True, 200: True}, False, LIVE), {Drift.STALE_ROW, Drift.ROW_WITHOUT_TAG},
                 rows_below(200), TagAction.SET, 200, id="older row and a current row without tag"),
    pytest.param(PageView(1, {100: True, 200: False}, True, None), {Drift.STALE_ROW}, rows_below(200),
                 TagAction.CLEAR, 200, id="the only data row is stale; the tag goes with it"),
    pytest.param(PageView(1, {100: False}, True, None), {Drift.TAG_WITHOUT_ROW}, None, TagAction.CLEAR, 100,
                 id="tag on a NULL row, Redis unknown"),
    pytest.param(PageView(1, {50: False, 100: False}, True, LIVE), {Drift.STALE_ROW, Drift.TAG_WITHOUT_ROW},
                 rows_below(200), TagAction.CLEAR, 200, id="stale NULL rows and a tag without data"),
    pytest.param(PageView(1, {200: True}, True, GONE), {Drift.REMOVED_PAGE_ROW}, rows_below(200, removed=True),
                 TagAction.CLEAR, 200, id="deleted page keeps its row and tag"),
    pytest.param(PageView(1, {150: False, 200: True}, False, GONE), {Drift.REMOVED_PAGE_ROW},
                 rows_below(200, removed=True), TagAction.CLEAR, 200, id="deleted page keeps rows only"),
    pytest.param(PageView(1, {}, True, GONE), {Drift.REMOVED_PAGE_ROW}, rows_below(200, removed=True),
                 TagAction.CLEAR, 200, id="deleted page keeps its tag only"),
    pytest.param(PageView(1, {200: True}, True, None, Fence(200, True)), {Drift.REMOVED_PAGE_ROW},
                 rows_below(200, removed=True), TagAction.CLEAR, 200, id="Redis lost the deletion, the fence has it"),
]


@pytest.mark.parametrize(("view", "kinds", "row", "tag", "rev_id"), DRIFTING)
def test_drift_kinds_and_repairs(view: PageView, kinds: set[Drift], row: PageWrite | None, tag: TagAction | None,
                                 rev_id: int | None) -> None:
    drift = assess(WIKI, view)
    assert drift is not None
    assert (drift.page_id, drift.kinds, drift.rev_id) == (1, frozenset(kinds), rev_id)
    assert (drift.writes.row, drift.writes.tag, drift.writes.rev_based) == (row, tag, False)


def applied(view: PageView, drift: PageDrift) -> PageView:
    """The page after the repair landed (rows below ``delete_below`` gone, the tag as written)."""
    row, tag = drift.writes.row, drift.writes.tag
    rows = {rev: data for rev, data in view.rows.items()
            if row is None or row.delete_below is None or rev >= row.delete_below}
    return PageView(view.page_id, rows, view.tagged if tag is None else tag is TagAction.SET, view.known, view.fence)


@pytest.mark.parametrize(("view", "kinds", "row", "tag", "rev_id"), DRIFTING)
def test_a_repaired_page_is_consistent(view: PageView, kinds: set[Drift], row: PageWrite | None,
                                       tag: TagAction | None, rev_id: int | None) -> None:
    """Applying the repair gives a page assess() accepts: repairs converge in one step."""
    drift = assess(WIKI, view)
    assert drift is not None and assess(WIKI, applied(view, drift)) is None


@pytest.mark.parametrize(("view", "kinds", "row", "tag", "rev_id"),
                         [case for case in DRIFTING if case.values[4] is not None])
def test_a_repair_racing_a_newer_revision_is_refused_by_the_fence(
        view: PageView, kinds: set[Drift], row: PageWrite | None, tag: TagAction | None, rev_id: int) -> None:
    """Decided on the state read; before it lands, ingest handles a newer revision and raises the
    page's fence. Neither the row write nor the tag change is admitted any more (the sinks' check),
    while at the revision it was decided for it was."""
    drift = assess(WIKI, view)
    assert drift is not None and drift.rev_id == rev_id
    for fence, admitted in ((Fence(rev_id, False), True), (Fence(rev_id + 1, False), False)):
        if drift.writes.row is not None:
            write = drift.writes.row
            assert fence.admits(write.rev_id, removal=write.freshness is Freshness.REMOVED) is admitted
        assert fence.admits(drift.rev_id, removal=drift.writes.tag is TagAction.CLEAR) is admitted


def test_a_repair_never_deletes_the_row_of_the_revision_it_is_for() -> None:
    """Rows of the latest revision (or newer, written after the read) stay: deletion stops below it."""
    drift = assess(WIKI, PageView(1, {100: True, 200: True}, False, LIVE))
    assert drift is not None and drift.writes.row is not None
    assert drift.writes.row.delete_below == 200 and not drift.writes.row.write_row


def test_report_counts_samples_and_exit_code() -> None:
    report = Report("elwiki", fix=True, pages_checked=40)
    set_tag = PageWrites(None, TagAction.SET, "repaired")
    report.record(PageDrift(7, frozenset({Drift.STALE_ROW, Drift.ROW_WITHOUT_TAG}), set_tag, 1), fixed=True)
    assert report.exit_code == 0
    clear = PageWrites(None, TagAction.CLEAR, "repaired")
    for page_id in range(100, 100 + SAMPLE_SIZE + 5):
        report.record(PageDrift(page_id, frozenset({Drift.TAG_WITHOUT_ROW}), clear, None), fixed=False)
    assert report.exit_code == 1
    data = json.loads(json.dumps(report.as_json()))
    assert data["drift"] == {"removed_page_row": 0, "stale_row": 1, "tag_without_row": SAMPLE_SIZE + 5,
                             "row_without_tag": 1}
    assert data["fixed"] == {"removed_page_row": 0, "stale_row": 1, "tag_without_row": 0, "row_without_tag": 1}
    assert data["remaining"]["tag_without_row"] == SAMPLE_SIZE + 5
    assert data["samples"]["tag_without_row"] == list(range(100, 100 + SAMPLE_SIZE))
    assert data["samples"]["stale_row"] == [7]
    assert data["wiki"] == "elwiki" and data["pages_checked"] == 40
    summary = report.summary()
    assert "elwiki: 40 pages checked" in summary
    assert any(line.split()[:4] == ["tag_without_row", str(SAMPLE_SIZE + 5), "0", str(SAMPLE_SIZE + 5)]
               for line in summary.splitlines())
