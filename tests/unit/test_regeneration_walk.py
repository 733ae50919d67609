"""stream.pipeline.regeneration: where a wiki's walk starts, what it queues, its cursor and its lease
(with in-memory fakes of the rows, the text source, Redis and the work topic)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

from sinks.mariadb import StoredPage
from stream.config import RegenerationSettings, Settings
from stream.core.events import encode_key
from stream.observe.metrics import Sensor
from stream.pipeline.bootstrap import Observability, build_regeneration
from stream.pipeline.content import Revision
from stream.pipeline.regeneration import Cursor, Regenerator, start_after

WIKI = "elwiki"
OPTIONS = RegenerationSettings(rate=0, batch=2, lease_s=60)


def gelr(model: str) -> bytes:
    return json.dumps({"links": [], "meta": {"dataset_checksums": {"model": model}}}).encode()


class Rows:
    """Page id -> model of its newest data row (revision id = page id * 10)."""

    def __init__(self, models: dict[int, str]) -> None:
        self.models = models

    def pages_with_data(self, wiki_id, *, batch_size=500, after_page_id=0):
        return iter([StoredPage(page, page * 10, 1) for page in sorted(self.models) if page > after_page_id])

    def stored_data(self, wiki_id, rev_id):
        return gelr(self.models[rev_id // 10])


class Revisions:
    def __init__(self, gone: set[int] = frozenset()) -> None:
        self.gone = gone
        self.asked: list[int] = []

    def revision(self, *, wiki_id, domain, rev_id):
        self.asked.append(rev_id)
        if rev_id in self.gone:
            return None
        return Revision(f"Page_{rev_id}", 0, datetime(2024, 1, 1, tzinfo=UTC), "text")


class Leases:
    """Redis' lease and cursor, as RedisLeases keeps them (expiry left out)."""

    def __init__(self, cursor: Cursor | None = None, holder: str | None = None) -> None:
        self.saved = cursor
        self.holder = holder
        self.log: list[str] = []

    def cursor(self, wiki):
        return self.saved

    def acquire(self, wiki, owner, ttl_s):
        if self.holder in (None, owner):
            self.holder = owner
            return True
        return False

    def advance(self, wiki, owner, cursor, ttl_s):
        if self.holder != owner:
            return False
        self.saved = cursor
        self.log.append(f"cursor {cursor.page}")
        return True

    def release(self, wiki, owner):
        if self.holder == owner:
            self.holder = None


class Work:
    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.buffer: list = []
        self.sent: list = []

    def add(self, item) -> None:
        self.buffer.append(item)

    def flush(self) -> None:
        self.sent += self.buffer
        self.log.append(f"flush {[item.page_id for item in self.buffer]}")
        self.buffer = []


class Walks(Sensor):
    def __init__(self) -> None:
        self.verdicts: list[str] = []
        self.walking: list[tuple[bool, int]] = []

    def on_regeneration_checked(self, wiki, verdict):
        self.verdicts.append(verdict)

    def on_regeneration_walk(self, wiki, walking, cursor):
        self.walking.append((walking, cursor))


def regenerator(rows: Rows, leases: Leases, *, model: str = "new", revisions: Revisions | None = None,
                stop: threading.Event | None = None, **kwargs) -> tuple[Regenerator, Work, Walks]:
    work, sensor = Work(leases.log), kwargs.pop("sensor", None) or Walks()
    models = kwargs.pop("models", lambda wiki: model)
    return Regenerator(wikis={WIKI: "el.wikipedia.org"}, models=models, rows=rows,
                       revisions=revisions or Revisions(), leases=leases, work=work, sensor=sensor,
                       stop=stop or threading.Event(), options=kwargs.pop("options", OPTIONS), owner="me",
                       **kwargs), work, sensor


def test_a_new_model_starts_the_walk_and_a_finished_walk_is_not_redone() -> None:
    assert start_after(None, "new") == 0
    assert start_after(Cursor("old", 500, done=True), "new") == 0, "a new model restarts the walk"
    assert start_after(Cursor("new", 500), "new") == 500, "an unfinished walk resumes after its page"
    assert start_after(Cursor("new", 500, done=True), "new") is None


def test_outdated_rows_are_queued_as_rescore_items_keyed_like_live_items_before_the_cursor_moves() -> None:
    leases = Leases()
    revisions = Revisions(gone={40})
    regen, work, sensor = regenerator(Rows({1: "old", 2: "new", 3: "old", 4: "old", 5: "old"}), leases,
                                      revisions=revisions)
    report = regen.regenerate(WIKI)

    assert [item.page_id for item in work.sent] == [1, 3, 5]
    assert all(item.rescore and item.rev_id == item.page_id * 10 for item in work.sent)
    assert [item.key() for item in work.sent] == [encode_key(WIKI, page) for page in (1, 3, 5)]
    assert revisions.asked == [10, 30, 40, 50], "text is fetched only for outdated rows"
    assert sensor.verdicts == ["outdated", "current", "outdated", "no_text", "outdated"]
    # Each batch of two items is acknowledged by Kafka before the cursor passes it.
    assert leases.log == ["flush [1, 3]", "cursor 3", "flush [5]", "cursor 5"]
    assert leases.saved == Cursor("new", 5, done=True) and report is not None and report.done
    assert leases.holder is None, "the lease is released after the walk"
    assert sensor.walking[0] == (True, 0) and sensor.walking[-1] == (False, 5), "the gauge keeps the last page"

    assert regen.regenerate(WIKI) is None and len(work.sent) == 3, "done for this model: not walked again"


def test_a_restart_resumes_after_the_cursor_and_a_new_model_starts_again() -> None:
    rows = Rows({1: "old", 2: "old", 3: "old"})
    leases = Leases(Cursor("new", 2))
    regen, work, _ = regenerator(rows, leases)
    regen.regenerate(WIKI)
    assert [item.page_id for item in work.sent] == [3]

    regen, work, _ = regenerator(rows, leases, model="newer")
    regen.regenerate(WIKI)
    assert [item.page_id for item in work.sent] == [1, 2, 3] and leases.saved == Cursor("newer", 3, done=True)


def test_a_wiki_whose_lease_another_process_holds_is_left_to_it() -> None:
    leases = Leases(holder="other")
    regen, work, _ = regenerator(Rows({1: "old"}), leases)
    assert regen.regenerate(WIKI) is None and work.sent == [] and leases.saved is None


def test_a_walk_whose_lease_was_taken_over_stops_without_moving_the_cursor() -> None:
    leases = Leases()
    rows = Rows({1: "old", 2: "old", 3: "old", 4: "old"})

    def flush_then_lose() -> None:  # the lease expires while the first batch is sent
        Work.flush(work)
        leases.holder = "other"

    regen, work, _ = regenerator(rows, leases)
    work.flush = flush_then_lose  # type: ignore[method-assign]
    report = regen.regenerate(WIKI)
    assert report is not None and report.lost_lease and not report.done
    assert [item.page_id for item in work.sent] == [1, 2], "nothing is queued after the lease is lost"
    assert leases.saved is None and leases.holder == "other"


def test_a_stop_keeps_the_cursor_before_the_first_page_not_queued() -> None:
    stop = threading.Event()
    leases = Leases()

    class StopAtThree(Revisions):
        def revision(self, *, wiki_id, domain, rev_id):
            if rev_id == 30:
                stop.set()
            return super().revision(wiki_id=wiki_id, domain=domain, rev_id=rev_id)

    regen, work, _ = regenerator(Rows({1: "old", 2: "new", 3: "old", 4: "old"}), leases, revisions=StopAtThree(),
                                 stop=stop, options=RegenerationSettings(rate=0, batch=10))
    report = regen.regenerate(WIKI)
    assert [item.page_id for item in work.sent] == [1]
    assert leases.saved == Cursor("new", 2, done=False) and report is not None and not report.done


def test_a_model_published_during_the_walk_ends_it_unfinished() -> None:
    current = ["new"]
    leases = Leases()

    def models(wiki: str) -> str:
        return current[0]

    class Publish(Revisions):
        def revision(self, *, wiki_id, domain, rev_id):
            current[0] = "newer"
            return super().revision(wiki_id=wiki_id, domain=domain, rev_id=rev_id)

    regen, work, _ = regenerator(Rows({1: "old", 2: "old", 3: "old"}), leases, revisions=Publish(), models=models,
                                 options=RegenerationSettings(rate=0, batch=1))
    regen.regenerate(WIKI)
    assert [item.page_id for item in work.sent] == [1] and leases.saved == Cursor("new", 1, done=False)
    assert start_after(leases.saved, current[0]) == 0, "the next round walks the new model from the start"


def test_run_goes_on_after_a_failing_round() -> None:
    stop = threading.Event()
    rounds: list[int] = []

    class Failing(Rows):
        def pages_with_data(self, wiki_id, *, batch_size=500, after_page_id=0):
            rounds.append(1)
            if len(rounds) == 1:
                raise RuntimeError("a bug in one round")
            stop.set()
            return super().pages_with_data(wiki_id, batch_size=batch_size, after_page_id=after_page_id)

    errors: list[str] = []

    class Errors(Walks):
        def on_error(self, stage, error_type):
            errors.append(f"{stage}:{error_type}")

    leases = Leases()
    regen, _, _ = regenerator(Failing({1: "old"}), leases, stop=stop, sensor=Errors(),
                              options=RegenerationSettings(rate=0, check_interval_s=0.01))
    assert regen.run() is False
    assert errors == ["regeneration:RuntimeError"] and len(rounds) == 2 and leases.holder is None


def test_the_stage_is_off_without_a_rate_or_a_text_source(caplog) -> None:
    stop, obs = threading.Event(), Observability()
    assert build_regeneration(Settings(regeneration={"rate": 0}), obs, stop, revisions=Revisions()) is None
    assert build_regeneration(Settings(), obs, stop) is None
    assert "pipeline.fetch_missing_content" in caplog.text, "a rate without a text source is said at start-up"
