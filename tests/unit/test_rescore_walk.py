"""stream.pipeline.outdated and stream.ops.rescore: which rows an older model made, and the walk's
pacing, limit and counts."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sinks.mariadb import StoredPage
from stream.pipeline.consume_loop import Done
from stream.pipeline.content import Revision
from stream.core.events import parse_work_item
from stream.ops.rescore import Rescorer
from stream.pipeline.outdated import Pacer, outdated, row_model


def gelr(model: str | None) -> bytes:
    checksums = {"model": model} if model else {}
    return json.dumps({"links": [], "meta": {"dataset_checksums": checksums}}).encode()


def test_a_row_is_outdated_unless_it_names_the_current_model() -> None:
    assert row_model(gelr("abc")) == "abc" and not outdated(gelr("abc"), "abc")
    assert outdated(gelr("old"), "abc") and outdated(gelr(None), "abc") and outdated(b"not json", "abc")


class Rows:
    def __init__(self, models: dict[int, str]) -> None:
        self.models = models  # page id (= rev id) -> model

    def pages_with_data(self, wiki_id, *, batch_size=500, after_page_id=0):
        return iter([StoredPage(page, page, 1) for page in sorted(self.models)])

    def stored_data(self, wiki_id, rev_id):
        return gelr(self.models[rev_id])


class Revisions:
    def revision(self, *, wiki_id, domain, rev_id):
        if rev_id == 3:
            return None  # deleted since
        return Revision(f"Page_{rev_id}", 0, datetime(2024, 1, 1, tzinfo=UTC), "text")


class Recorder:
    def __init__(self) -> None:
        self.items = []

    def handle(self, message):
        self.items.append(parse_work_item(message.value))
        return Done()


class Clock:
    """A monotonic clock that only sleeping advances (evaluations take no time)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def run(rows: Rows, **options) -> tuple:
    handler, flushes, clock = Recorder(), [], Clock()
    rescorer = Rescorer("elwiki", "el.wikipedia.org", "new", rows, Revisions(), handler, lambda: flushes.append(1),
                        lambda: {"success": len(handler.items)}, sleep=clock.sleep, clock=lambda: clock.now, **options)
    return rescorer.run(), handler.items, flushes, clock.sleeps


def test_only_outdated_rows_with_text_are_rescored_paced_and_flushed_in_batches() -> None:
    report, items, flushes, sleeps = run(Rows({1: "old", 2: "new", 3: "old", 4: "old", 5: "old"}), rate=2.0,
                                         batch_size=2)
    assert [item.page_id for item in items] == [1, 4, 5] and all(item.rescore for item in items)
    assert items[0].page_title == "Page_1" and items[0].content_model == "wikitext"
    assert (report.rows_checked, report.current, report.no_text, report.rescored) == (5, 1, 1, 3)
    assert report.outcomes == {"success": 3}
    assert len(flushes) == 2, "one flush after two items, one at the end"
    assert sum(sleeps) == 1.5, "four text fetches (page 3's finds none) at 2 per second: the last starts at 1.5 s"


def test_the_limit_counts_outdated_rows() -> None:
    report, items, _, _ = run(Rows({1: "old", 2: "old", 3: "old"}), limit=2)
    assert [item.page_id for item in items] == [1, 2] and report.rows_checked == 2


def test_the_pacer_bounds_the_rate_without_a_burst_after_a_pause() -> None:
    clock = Clock()
    pacer = Pacer(2.0, clock=lambda: clock.now, sleep=clock.sleep)
    pacer.wait(), pacer.wait()
    assert clock.sleeps == [0.5]
    clock.now += 60.0  # an outage: nothing was fetched for a minute
    pacer.wait(), pacer.wait(), pacer.wait()
    assert clock.sleeps == [0.5, 0.5, 0.5], "after the pause: 2 per second again, no catching up"
    unbounded = Pacer(None, clock=lambda: clock.now, sleep=clock.sleep)
    unbounded.wait(), unbounded.wait()
    assert len(clock.sleeps) == 3
