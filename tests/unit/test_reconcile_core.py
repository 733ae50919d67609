"""stream.ops.drift: which state of rows, tag and Redis record is drift, and what repairs it."""

from __future__ import annotations

import json

import pytest

from sinks.base import TagAction
from stream.ops.drift import SAMPLE_SIZE, Drift, PageDrift, PageView, Repair, Report, assess, latest_revision
from stream.pipeline.state import PageRecord

LIVE = PageRecord(rev_id=200, removed=False)
GONE = PageRecord(rev_id=200, removed=True)

CONSISTENT = [
    pytest.param(PageView(1, {200: True}, True, LIVE), id="row and tag of the latest revision"),
    pytest.param(PageView(1, {200: True}, True, None), id="row and tag, Redis does not know the page"),
    pytest.param(PageView(1, {200: False}, False, LIVE), id="NULL row of the latest revision, no tag"),
    pytest.param(PageView(1, {}, False, LIVE), id="no row, no tag (waiting for the quiet period)"),
    pytest.param(PageView(1, {}, False, GONE), id="removed page, nothing left"),
    pytest.param(PageView(1, {300: True}, True, GONE), id="tombstone older than the row is out of date"),
]


@pytest.mark.parametrize("view", CONSISTENT)
def test_consistent_pages_are_not_drift(view: PageView) -> None:
    assert assess(view) is None


DRIFTING = [
    pytest.param(PageView(1, {}, True, None), {Drift.TAG_WITHOUT_ROW}, Repair((), TagAction.CLEAR),
                 id="tag without any row"),
    pytest.param(PageView(1, {200: False}, True, LIVE), {Drift.TAG_WITHOUT_ROW}, Repair((), TagAction.CLEAR),
                 id="tag on a NULL row"),
    pytest.param(PageView(1, {200: True}, False, LIVE), {Drift.ROW_WITHOUT_TAG}, Repair((), TagAction.SET),
                 id="data row of the latest revision without its tag"),
    pytest.param(PageView(1, {100: True}, True, LIVE), {Drift.STALE_ROW}, Repair((100,), TagAction.CLEAR),
                 id="tagged data row of a revision older than Redis knows"),
    pytest.param(PageView(1, {100: False}, False, LIVE), {Drift.STALE_ROW}, Repair((100,), None),
                 id="NULL row of an older revision"),
    pytest.param(PageView(1, {100: True, 200: True}, True, None), {Drift.STALE_ROW}, Repair((100,), None),
                 id="older row beside the current one, Redis unknown: the newest row is the latest"),
    pytest.param(PageView(1, {100: True, 200: True}, False, LIVE), {Drift.STALE_ROW, Drift.ROW_WITHOUT_TAG},
                 Repair((100,), TagAction.SET), id="older row and a current row without tag"),
    pytest.param(PageView(1, {100: True, 200: False}, True, None), {Drift.STALE_ROW},
                 Repair((100,), TagAction.CLEAR), id="the only data row is stale; the tag goes with it"),
    pytest.param(PageView(1, {100: False}, True, None), {Drift.TAG_WITHOUT_ROW}, Repair((), TagAction.CLEAR),
                 id="tag on a NULL row, Redis unknown"),
    pytest.param(PageView(1, {50: False, 100: False}, True, LIVE), {Drift.STALE_ROW, Drift.TAG_WITHOUT_ROW},
                 Repair((50, 100), TagAction.CLEAR), id="stale NULL rows and a tag without data"),
    pytest.param(PageView(1, {200: True}, True, GONE), {Drift.REMOVED_PAGE_ROW}, Repair((200,), TagAction.CLEAR),
                 id="deleted page keeps its row and tag"),
    pytest.param(PageView(1, {150: False, 200: True}, False, GONE), {Drift.REMOVED_PAGE_ROW},
                 Repair((150, 200), None), id="deleted page keeps rows only"),
    pytest.param(PageView(1, {}, True, GONE), {Drift.REMOVED_PAGE_ROW}, Repair((), TagAction.CLEAR),
                 id="deleted page keeps its tag only"),
]


@pytest.mark.parametrize(("view", "kinds", "repair"), DRIFTING)
def test_drift_kinds_and_repairs(view: PageView, kinds: set[Drift], repair: Repair) -> None:
    assert assess(view) == PageDrift(1, frozenset(kinds), repair)


@pytest.mark.parametrize(("view", "kinds", "repair"), DRIFTING)
def test_a_repaired_page_is_consistent(view: PageView, kinds: set[Drift], repair: Repair) -> None:
    """Applying the repair to the view gives a page assess() accepts: repairs converge in one step."""
    rows = {rev: data for rev, data in view.rows.items() if rev not in repair.delete_revisions}
    tagged = view.tagged if repair.tag is None else repair.tag is TagAction.SET
    assert assess(PageView(view.page_id, rows, tagged, view.known)) is None


def test_latest_revision_is_the_highest_known() -> None:
    assert latest_revision(PageView(1, {100: True}, False, PageRecord(90, False))) == 100
    assert latest_revision(PageView(1, {100: True}, False, PageRecord(120, False))) == 120
    assert latest_revision(PageView(1, {}, True, None)) is None


def test_report_counts_samples_and_exit_code() -> None:
    report = Report("elwiki", fix=True, pages_checked=40)
    stale_and_untagged = PageDrift(7, frozenset({Drift.STALE_ROW, Drift.ROW_WITHOUT_TAG}), Repair((1,), TagAction.SET))
    report.record(stale_and_untagged, fixed=True)
    assert report.exit_code == 0
    for page_id in range(100, 100 + SAMPLE_SIZE + 5):
        report.record(PageDrift(page_id, frozenset({Drift.TAG_WITHOUT_ROW}), Repair((), TagAction.CLEAR)), fixed=False)
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
