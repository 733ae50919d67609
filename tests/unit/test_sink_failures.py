"""stream.pipeline.sink_failures.PageFailures: a write refused for good is reported and never leaves a row
without its tag."""

from __future__ import annotations

import json

from pipeline_fakes import RecordingErrors, fake_tag_sink
from sinks.base import Freshness, PageWrite, TagAction, TagChange
from stream.observe.metrics import OutcomeTally
from stream.pipeline.sink_failures import PageFailures, PermanentWriteFailure


class DeletedRevisions:
    def __init__(self) -> None:
        self.deleted: list[tuple[str, int, list[int]]] = []

    def delete_revisions(self, wiki_id: str, page_id: int, rev_ids: list[int]) -> int:
        self.deleted.append((wiki_id, page_id, rev_ids))
        return len(rev_ids)


def harness():
    errors, tally, rows, tags = RecordingErrors(), OutcomeTally(), DeletedRevisions(), fake_tag_sink()
    failures = PageFailures(errors=errors, sensor=tally, role="worker")
    failures.bind(rows, tags)
    return failures, errors, tally, rows, tags


def test_a_refused_row_withdraws_the_pages_pending_tag_set_and_is_reported() -> None:
    failures, errors, tally, rows, tags = harness()
    tags.set_link_tag("elwiki", 7, rev_id=100)
    tags.clear_link_tag("elwiki", 8, rev_id=200)
    write = PageWrite("elwiki", 7, 100, Freshness.CURRENT, write_row=True, data=b"{}")
    failures.row_failed(write, "Data too long for column 'gelr_data'")
    failures.row_failed(PageWrite("elwiki", 8, 200, Freshness.REMOVED, delete_below=201), "refused")
    tags.flush()
    assert tags.changes and [(c.page_id, c.action) for c in tags.changes] == [(8, TagAction.CLEAR)]
    assert rows.deleted == []
    raw, error, source = errors.reports[0]
    assert isinstance(error, PermanentWriteFailure) and "too long" in str(error)
    assert json.loads(raw)["page_id"] == 7 and "data" not in json.loads(raw)
    assert source["key"] == b'{"wiki_id":"elwiki","page_id":7}'
    assert tally.summary()["errors"] == {"worker:PermanentWriteFailure": 2}


def test_a_refused_tag_set_takes_its_row_back_and_a_refused_clear_only_reports() -> None:
    failures, errors, _, rows, _ = harness()
    failures.tag_failed(TagChange("elwiki", 7, TagAction.SET, rev_id=100), "mapper_parsing_exception")
    failures.tag_failed(TagChange("elwiki", 8, TagAction.CLEAR, rev_id=200), "index_closed_exception")
    assert rows.deleted == [("elwiki", 7, [100])]
    assert len(errors.reports) == 2
