"""Worker decisions: quiet period, staleness guards, outcomes and the state each item leaves the page in.

The model is replaced by a scorer returning fixed links (the real model is exercised by the
integration tests); Redis and MariaDB by in-memory stand-ins with their documented semantics.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from pipeline_fakes import FakeClock, FakePageState, FakeStore, RecordingErrors, fake_tag_sink
from scoring.gelr import Gelr, GelrLink, GelrMeta
from scoring.recommend import Recommendation
from scoring.wikitext import ParsedArticle, parse_article
from stream.ops.backfill import page_change_event
from stream.config import Settings, WikiSettings
from stream.pipeline.consume_loop import Done, NotYet
from stream.core.events import SourceMessage, WorkItem, parse_event
from stream.observe.metrics import OutcomeTally, SensorSet, StageTimes
from stream.pipeline.worker import WorkerHandler

WIKI = "elwiki"
REV_TIME = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
DAY = 86_400


def link(target: str, score: float, index: int) -> GelrLink:
    return GelrLink(link_text=target, link_target=target, match_index=0, wikitext_offset=10 * index, score=score,
                    context_before="", context_after="", link_index=index)


class FixedScorer:
    def __init__(self, links: list[GelrLink]) -> None:
        self.links = links
        self.calls = 0

    def parse(self, wiki_id, wikitext, budget) -> ParsedArticle:
        return parse_article(wikitext)

    def score(self, item, wiki, article, budget, new_titles=None) -> Recommendation:
        self.calls += 1
        meta = GelrMeta(application_version="test", dataset_checksums={"model": "abc"}, task_timestamp=1)
        return Recommendation(gelr=Gelr(links=tuple(self.links), meta=meta), complete=True,
                              mentions=len(self.links), candidates=len(self.links))


class Harness:
    def __init__(self, links: list[GelrLink] | None = None, *, now: datetime = REV_TIME,
                 tally: OutcomeTally | None = None, **wiki: object) -> None:
        self.settings = Settings(wikis={WIKI: WikiSettings(language="el", **wiki)})
        self.clock = FakeClock(wall=now.timestamp())
        self.state = FakePageState()
        self.store = FakeStore()
        self.tags = fake_tag_sink(self.store.fence_reader)
        self.errors = RecordingErrors()
        self.tally = tally or OutcomeTally()
        self.scorer = FixedScorer(links if links is not None else [link("Αθήνα", 0.9, 0), link("Σπάρτη", 0.8, 1)])
        self.handler = WorkerHandler(settings=self.settings, state=self.state, store=self.store, tags=self.tags,
                                     errors=self.errors, scorer=self.scorer, clock=self.clock, sensor=self.tally)
        self.offset = 0

    def item(self, kind: str = "edit", rev_id: int = 100, text: str | None = "Η [[Ελλάδα]] και η Αθήνα.",
             **extra) -> WorkItem:
        event = page_change_event(wiki_id=WIKI, domain="el.wikipedia.org", page_id=7, title="Δοκιμή", rev_id=rev_id,
                                  rev_dt=REV_TIME.isoformat(), kind=kind, text=text, **extra)
        parsed = parse_event(json.dumps(event).encode())
        message = SourceMessage("src", 0, 1, None, b"", None)
        return WorkItem.from_event(parsed, message, include_wikitext=True)

    def send(self, item: WorkItem | bytes, produced_at: float | None = None):
        raw = item if isinstance(item, bytes) else item.to_json()
        self.offset += 1
        timestamp = int((produced_at or REV_TIME.timestamp()) * 1000)
        result = self.handler.handle(SourceMessage("addlink.work.v1", 0, self.offset, b"k", raw, timestamp))
        self.store.flush()
        self.tags.flush()
        return result

    def outcomes(self) -> dict[str, int]:
        return self.tally.summary()["outcomes"]

    def skipped(self) -> dict[str, int]:
        return self.tally.summary()["skipped"]


def test_an_item_waits_for_its_quiet_period_then_is_evaluated() -> None:
    h = Harness(minimum_time_since_last_edit=DAY)
    result = h.send(h.item())
    assert result == NotYet(REV_TIME.timestamp() + DAY)
    assert h.scorer.calls == 0 and h.store.ops == [] and h.tags.changes == []
    h.clock.advance(DAY)
    result = h.send(h.item())
    assert isinstance(result, Done) and result.due_wall == REV_TIME.timestamp() + DAY
    assert h.outcomes() == {"success": 1}


def test_a_revision_dated_in_the_future_waits_from_when_it_was_received_not_until_then() -> None:
    h = Harness(minimum_time_since_last_edit=DAY)
    future = h.item().model_copy(update={"dt": REV_TIME.replace(year=9999)})
    assert h.send(future) == NotYet(REV_TIME.timestamp() + DAY)  # sent at REV_TIME (the message timestamp)
    h.clock.advance(DAY)
    assert isinstance(h.send(future), Done)


def test_success_writes_the_row_then_sets_the_tag() -> None:
    h = Harness(now=REV_TIME, minimum_time_since_last_edit=0)
    h.send(h.item())
    data = h.store.page_rows(WIKI, 7)[100]
    gelr = json.loads(data)
    assert [l["link_target"] for l in gelr["links"]] == ["Αθήνα", "Σπάρτη"]
    assert gelr["meta"]["dataset_checksums"] == {"model": "abc"}
    assert h.tags.is_set(WIKI, 7)
    assert h.outcomes() == {"success": 1}


def test_latency_counts_from_when_the_item_reached_the_work_topic_if_later_than_due() -> None:
    h = Harness(minimum_time_since_last_edit=0)
    produced = REV_TIME.timestamp() + 500
    h.clock.advance(600)
    assert h.send(h.item(), produced_at=produced).due_wall == produced


def test_older_rows_of_the_page_are_replaced_by_the_new_revisions() -> None:
    h = Harness(minimum_time_since_last_edit=0)
    h.store.replace(WIKI, 7, 90, b'{"old":1}')
    h.store.flush()
    h.send(h.item(rev_id=100))
    assert set(h.store.page_rows(WIKI, 7)) == {100}


def test_too_few_good_links_writes_growthexperiments_null_row_and_clears_the_tag() -> None:
    h = Harness([link("Αθήνα", 0.9, 0), link("Σπάρτη", 0.3, 1)], minimum_time_since_last_edit=0)
    h.tags.set_link_tag(WIKI, 7)
    h.tags.flush()
    h.send(h.item())
    assert h.store.page_rows(WIKI, 7) == {100: None}
    assert not h.tags.is_set(WIKI, 7)
    assert h.outcomes() == {"good_links_count_too_small": 1}


def test_already_stored_rescores_nothing_and_sets_the_missing_tag() -> None:
    h = Harness(minimum_time_since_last_edit=0)
    h.store.replace(WIKI, 7, 100, b"{}")
    h.store.flush()  # e.g. the process died between the MariaDB commit and the tag write
    h.send(h.item())
    assert h.scorer.calls == 0
    assert h.tags.is_set(WIKI, 7)
    assert h.outcomes() == {"already_stored": 1}


def test_known_unavailable_keeps_the_null_row_and_no_tag() -> None:
    h = Harness(minimum_time_since_last_edit=0)
    h.store.replace(WIKI, 7, 100, None)
    h.store.flush()
    h.send(h.item())
    assert h.store.page_rows(WIKI, 7) == {100: None}
    assert not h.tags.is_set(WIKI, 7)
    assert h.outcomes() == {"known_unavailable": 1}


def test_an_excluded_template_is_counted_without_scoring_and_leaves_no_row() -> None:
    h = Harness(minimum_time_since_last_edit=0, excluded_templates=("Επιμέλεια",))
    h.store.replace(WIKI, 7, 90, b"{}")
    h.store.flush()
    h.send(h.item(text="{{Επιμέλεια}} Η Αθήνα."))
    assert h.scorer.calls == 0
    assert h.store.page_rows(WIKI, 7) == {}
    assert h.outcomes() == {"excluded_template": 1}


@pytest.mark.parametrize("newer", ["redis", "tombstone", "mariadb"])
def test_superseded_items_are_skipped_without_any_write(newer: str) -> None:
    h = Harness(minimum_time_since_last_edit=0)
    if newer == "redis":
        h.state.record_revision(WIKI, 7, 101)
    elif newer == "tombstone":
        h.state.mark_removed(WIKI, 7, 100)
    else:  # Redis lost its state; MariaDB holds the newer revision's row
        h.store.replace(WIKI, 7, 101, b"{}")
        h.store.flush()
    h.send(h.item(rev_id=100))
    assert h.scorer.calls == 0
    assert 100 not in h.store.page_rows(WIKI, 7)
    assert h.tags.changes == []
    assert h.skipped() == {"superseded": 1}


def test_a_stale_row_written_while_redis_was_empty_is_undone_by_the_pages_next_item() -> None:
    h = Harness(minimum_time_since_last_edit=0, excluded_templates=("Επιμέλεια",))
    h.send(h.item(rev_id=100))  # Redis empty: nothing says 100 is stale, a row gets written
    assert h.tags.is_set(WIKI, 7)
    h.send(h.item(rev_id=101, text="{{Επιμέλεια}} νέο"))  # the real latest revision: not eligible
    assert h.store.page_rows(WIKI, 7) == {}
    assert not h.tags.is_set(WIKI, 7)


@pytest.mark.parametrize(("kind", "extra"), [
    ("delete", {"text": None}),
    ("visibility_change", {"text": None, "content_visible": False}),
    ("move", {"namespace_id": 2, "prior_title": "Δοκιμή", "prior_namespace_id": 0}),
])
def test_removal_items_bring_the_page_to_no_row_and_no_tag_without_waiting(kind: str, extra: dict) -> None:
    h = Harness(minimum_time_since_last_edit=DAY)
    h.store.replace(WIKI, 7, 100, b"{}")
    h.store.flush()
    h.tags.set_link_tag(WIKI, 7)
    h.tags.flush()
    assert isinstance(h.send(h.item(kind=kind, **extra)), Done), "removals are not held by the quiet period"
    assert h.store.page_rows(WIKI, 7) == {}
    assert not h.tags.is_set(WIKI, 7)
    assert h.skipped() == {"removed": 1}


def test_a_removal_item_does_not_touch_a_page_undeleted_and_edited_since() -> None:
    h = Harness(minimum_time_since_last_edit=0)
    h.state.record_revision(WIKI, 7, 105)
    h.store.replace(WIKI, 7, 105, b"{}")
    h.store.flush()
    h.send(h.item(kind="delete", rev_id=100, text=None))
    assert h.store.page_rows(WIKI, 7) == {105: b"{}"}


def test_a_delete_and_undelete_handled_before_one_flush_leave_the_row_and_tag() -> None:
    """Found by fault injection: the undelete read the committed row (already_stored) while the
    delete's buffered removal was about to drop it; reads now include the store's pending writes."""
    h = Harness(minimum_time_since_last_edit=0)
    h.send(h.item())  # revision 100 scored, its row and tag committed
    assert h.outcomes() == {"success": 1} and h.tags.is_set(WIKI, 7)
    for number, work in enumerate([h.item(kind="delete", text=None), h.item(kind="undelete")], start=100):
        h.handler.handle(SourceMessage("addlink.work.v1", 0, number, b"k", work.to_json(),
                                       int(REV_TIME.timestamp() * 1000)))
    h.store.flush()
    h.tags.flush()
    assert list(h.store.page_rows(WIKI, 7)) == [100] and h.tags.is_set(WIKI, 7)
    assert h.outcomes() == {"success": 2}


def test_an_item_without_text_is_other_and_leaves_no_row() -> None:
    h = Harness(minimum_time_since_last_edit=0)
    h.send(h.item(text=None))
    assert h.outcomes() == {"other": 1}
    assert h.store.page_rows(WIKI, 7) == {}


def test_redirect_items_are_not_scored() -> None:
    h = Harness(minimum_time_since_last_edit=0)
    h.send(h.item(is_redirect=True, text="#REDIRECT [[Αθήνα]]"))
    assert h.scorer.calls == 0
    assert h.skipped() == {"redirect": 1}


def test_targets_seen_deleted_are_pruned() -> None:
    h = Harness(minimum_time_since_last_edit=0)
    h.state.mark_gone(WIKI, "Σπάρτη", REV_TIME)
    h.send(h.item())
    assert h.outcomes() == {"good_links_count_too_small": 1}
    assert h.store.page_rows(WIKI, 7) == {}, "a red link was pruned: GrowthExperiments writes no NULL row then"


def test_a_quiet_period_override_applies_to_every_wiki() -> None:
    h = Harness(minimum_time_since_last_edit=DAY)
    h.handler = WorkerHandler(settings=h.settings, state=h.state, store=h.store, tags=h.tags, errors=h.errors,
                              scorer=h.scorer, clock=h.clock, sensor=h.tally, quiet_period_override_s=0)
    assert isinstance(h.send(h.item()), Done)


def test_scoring_is_timed_as_the_worker_scoring_stage() -> None:
    h = Harness(minimum_time_since_last_edit=0)
    times = StageTimes()
    h.handler = WorkerHandler(settings=h.settings, state=h.state, store=h.store, tags=h.tags, errors=h.errors,
                              scorer=h.scorer, clock=h.clock, sensor=SensorSet([h.tally, times]))
    fixed = h.scorer.score

    def slow(*args):
        h.clock.advance(0.25)
        return fixed(*args)

    h.scorer.score = slow
    h.send(h.item())
    recorded = times.snapshot()
    assert recorded[("worker", "scoring")] == pytest.approx(0.25)
    assert {stage for _, stage in recorded} >= {"decode", "redis", "mariadb_read", "validate", "scoring"}


def test_a_prepared_batch_is_read_at_once_and_its_items_read_no_store_per_item() -> None:
    h = Harness(minimum_time_since_last_edit=0)
    h.state.record_revision(WIKI, 7, 100)
    raw = h.item().to_json()
    batch = [SourceMessage("addlink.work.v1", 0, n, b"k", raw, int(REV_TIME.timestamp() * 1000)) for n in (1, 2)]
    h.handler.prepare([*batch, SourceMessage("addlink.work.v1", 0, 3, b"k", b"not json", None)])
    assert h.state.batch_reads == 1 and h.store.prefetched == [{WIKI: ([7], [100])}]

    def per_item(*_):
        raise AssertionError("read per item although the batch was prepared")

    h.state.page = per_item
    assert isinstance(h.handler.handle(batch[0]), Done)
    assert h.outcomes() == {"success": 1}
    h.handler.prepare([])
    with pytest.raises(AssertionError, match="per item"):
        h.handler.handle(batch[1])  # forgotten: read afresh


def test_a_prepared_batch_stops_reading_a_partition_at_its_first_item_not_due() -> None:
    h = Harness(minimum_time_since_last_edit=DAY)
    sent = int(REV_TIME.timestamp() * 1000)
    due, elsewhere, behind = (h.item(rev_id=rev).to_json() for rev in (100, 101, 102))
    h.clock.advance(DAY)
    fresh = h.item(rev_id=101).model_copy(update={"dt": datetime.fromtimestamp(h.clock.wall(), UTC)})
    batch = [SourceMessage("addlink.work.v1", 0, 1, b"k", due, sent),
             SourceMessage("addlink.work.v1", 0, 2, b"k", fresh.to_json(), int(h.clock.wall() * 1000)),
             SourceMessage("addlink.work.v1", 0, 3, b"k", behind, sent),
             SourceMessage("addlink.work.v1", 1, 1, b"k", elsewhere, sent)]
    h.handler.prepare(batch)
    assert h.store.prefetched == [{WIKI: ([7], [100, 101])}], "partition 0 stops at offset 2; partition 1 is due"
    assert isinstance(h.handler.handle(batch[0]), Done)
    assert isinstance(h.handler.handle(batch[1]), NotYet)


def test_an_invalid_work_item_is_reported_with_its_raw_bytes() -> None:
    h = Harness()
    h.send(b'{"wiki_id": 3}')
    ((raw, error, source),) = h.errors.reports
    assert raw == b'{"wiki_id": 3}' and type(error).__name__ == "InvalidEvent" and source["topic"] == "addlink.work.v1"


def test_wikitext_beyond_mediawikis_size_limit_is_not_parsed_and_counts_as_other(monkeypatch) -> None:
    import stream.pipeline.worker

    monkeypatch.setattr(stream.pipeline.worker, "MAX_WIKITEXT_CHARS", 20)
    h = Harness(minimum_time_since_last_edit=0)
    h.send(h.item(text="x" * 21))
    assert h.scorer.calls == 0
    assert h.outcomes() == {"other": 1}


def test_a_rescore_item_replaces_an_older_models_row_and_counts_as_regenerated() -> None:
    class Regenerated(OutcomeTally):
        def __init__(self) -> None:
            super().__init__()
            self.regenerated: list[str] = []

        def on_regenerated(self, wiki: str, outcome: str) -> None:
            self.regenerated.append(outcome)

    tally = Regenerated()
    h = Harness(minimum_time_since_last_edit=0, tally=tally)
    h.store.replace(WIKI, 7, 100, b'{"links": [], "meta": {"dataset_checksums": {"model": "old"}}}')
    h.store.flush()
    h.send(h.item())
    assert h.outcomes() == {"already_stored": 1} and tally.regenerated == [], "a live item keeps the row"
    h.send(h.item().model_copy(update={"rescore": True}))
    assert json.loads(h.store.page_rows(WIKI, 7)[100])["meta"]["dataset_checksums"] == {"model": "abc"}
    assert tally.regenerated == ["success"]
    h.state.record_revision(WIKI, 7, 101)
    h.send(h.item().model_copy(update={"rescore": True}))
    assert tally.regenerated == ["success", "superseded"], "an edit since wins over the rescore"
