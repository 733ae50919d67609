"""`addlink run` regenerates by itself the rows an older model made once the wiki's bundle changes,
on the real services: no new event is needed, a page edited meanwhile keeps its newer state, the
walk's lease and cursor live in Redis and a restarted walk goes on after its cursor. The revisions' text comes from the sample dump, standing
in for the MediaWiki Action API."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import redis

from pipeline_env import (WIKI, DumpRevisions, handled, make, own_models_dir, publish_bundle,  # noqa: F401
                          retrained_models_dir, sample_articles, services)
from scoring.bundle import current_model
from stream.config import RegenerationSettings
from stream.observe.metrics import Sensor
from stream.pipeline.content import ContentUnavailable
from stream.pipeline.outdated import row_model
from stream.pipeline.regeneration import Cursor, RedisLeases

pytestmark = pytest.mark.integration

FAST = RegenerationSettings(rate=50, batch=2, lease_s=5, check_interval_s=0.5)


class Regeneration(Sensor):
    """What the walk checked and what the worker made of its items."""

    def __init__(self) -> None:
        self.checked: list[str] = []
        self.outcomes: list[str] = []

    def on_regeneration_checked(self, wiki: str, verdict: str) -> None:
        self.checked.append(str(verdict))

    def on_regenerated(self, wiki: str, outcome: str) -> None:
        self.outcomes.append(outcome)


def test_a_new_bundle_regenerates_the_old_models_rows_while_running_and_an_edit_keeps_its_newer_state(make) -> None:
    models_dir = own_models_dir()
    new_source = retrained_models_dir()  # trained before the run: publishing is then a symlink swap
    env = make(models_dir=models_dir)
    settings = env.settings.model_copy(update={"regeneration": FAST})
    pages = sample_articles()
    old_model, new_model = current_model(models_dir, WIKI), current_model(new_source, WIKI)
    assert old_model != new_model
    env.publish(env.article_events())

    phase: dict[str, object] = {}

    class EditedMeanwhile(DumpRevisions):
        """When the walk asks for the edited page's old revision, the page is edited first (and the
        worker brings it to that edit's state); the API still gives the old revision."""

        def revision(self, *, wiki_id: str, domain: str | None, rev_id: int):
            edited = phase.get("edited")
            if edited is not None and rev_id == edited.rev_id and "edit" not in phase:
                phase["edit"] = edit = edited.rev_id + 1_000_000
                env.publish([env.event(edited, rev_id=edit, rev_dt=datetime.now(UTC).isoformat())])
                deadline = time.monotonic() + 60
                while edit not in env.rows(edited.page_id):
                    assert time.monotonic() < deadline, "the edit was not handled"
                    time.sleep(0.1)
            return super().revision(wiki_id=wiki_id, domain=domain, rev_id=rev_id)

    regeneration = Regeneration()

    def until(tally) -> bool:
        if "swapped" not in phase:
            if handled(tally) < len(pages):
                return False
            rows = env.rows()
            with_data = {page for page, gelr in rows.values() if gelr is not None}
            if not with_data or len(with_data) < tally.summary()["outcomes"].get("success", 0):
                return False  # handled, not all committed yet
            assert {row_model(gelr) for _, gelr in rows.values() if gelr} == {old_model}
            phase["outdated"] = len(with_data)
            phase["edited"] = next(p for p in pages if p.page_id == max(with_data))  # walked last
            publish_bundle(new_source, models_dir)  # no event: only the bundle changes
            phase["swapped"] = True
            return False
        return len(regeneration.outcomes) >= phase["outdated"]

    env.run(until, settings=settings, revisions=EditedMeanwhile(), sensors=[regeneration], timeout=180)

    edited, edit = phase["edited"], phase["edit"]
    rows = env.rows()
    assert {row_model(gelr) for _, gelr in rows.values() if gelr} <= {new_model}, "no row of the old model is left"
    assert regeneration.checked.count("outdated") == phase["outdated"]
    assert regeneration.outcomes.count("superseded") == 1, regeneration.outcomes
    assert set(regeneration.outcomes) <= {"superseded", "success", "good_links_count_too_small",
                                          "all_recommendations_pruned"}, regeneration.outcomes
    assert set(env.rows(edited.page_id)) == {edit}, "the edit's state stays: the old revision is not rescored"
    assert env.tagged_pages() == {page for page, gelr in rows.values() if gelr is not None}
    leases = RedisLeases(redis.Redis.from_url(env.services.redis), env.settings.redis.key_prefix)
    assert leases.cursor(WIKI) == Cursor(new_model, edited.page_id, done=True), "the walk finished after the edit"


def test_the_lease_has_one_holder_renewed_by_it_and_the_cursor_moves_only_under_it(make) -> None:
    env = make()
    client = redis.Redis.from_url(env.services.redis)
    leases = RedisLeases(client, env.settings.redis.key_prefix)
    assert leases.cursor(WIKI) is None
    assert leases.acquire(WIKI, "a", 0.5) and not leases.acquire(WIKI, "b", 0.5)
    assert leases.acquire(WIKI, "a", 0.5), "the holder renews"
    assert leases.advance(WIKI, "a", Cursor("m1", 42), 0.5) and leases.cursor(WIKI) == Cursor("m1", 42)
    assert not leases.advance(WIKI, "b", Cursor("m1", 99), 0.5) and leases.cursor(WIKI) == Cursor("m1", 42)
    leases.release(WIKI, "b")
    assert not leases.acquire(WIKI, "b", 0.5), "only the holder releases"
    time.sleep(0.7)
    assert leases.acquire(WIKI, "b", 5), "an expired lease (a stopped process) is taken over"
    assert not leases.advance(WIKI, "a", Cursor("m1", 99, done=True), 5), "the former holder cannot move the cursor"
    leases.release(WIKI, "b")
    assert leases.acquire(WIKI, "a", 5)
    client.close()


def test_after_a_restart_the_walk_resumes_after_its_cursor(make) -> None:
    models_dir = own_models_dir()
    new_source = retrained_models_dir()
    env = make(models_dir=models_dir)
    settings = env.settings.model_copy(update={"regeneration": FAST.model_copy(update={"batch": 1})})
    pages = sample_articles()
    env.publish(env.article_events())
    env.run(lambda t: handled(t) >= len(pages) and sum(1 for _, g in env.rows().values() if g)
            >= t.summary()["outcomes"].get("success", 0), timeout=90)  # the first model, no regeneration
    with_data = sorted({page for page, gelr in env.rows().values() if gelr is not None})
    assert len(with_data) >= 3, "the sample must leave a few rows to walk"
    publish_bundle(new_source, models_dir)
    new_model = current_model(models_dir, WIKI)
    leases = RedisLeases(redis.Redis.from_url(env.services.redis), env.settings.redis.key_prefix)

    class FailsAfterTwo(DumpRevisions):
        """The Action API answers twice, then is down until the process stops."""

        def revision(self, *, wiki_id: str, domain: str | None, rev_id: int):
            if len(self.asked) >= 2:
                raise ContentUnavailable("down")
            return super().revision(wiki_id=wiki_id, domain=domain, rev_id=rev_id)

    def stopped_by_the_outage(_tally) -> bool:
        cursor = leases.cursor(WIKI)
        return cursor is not None and cursor.page == with_data[1]

    env.run(stopped_by_the_outage, settings=settings, revisions=FailsAfterTwo(), timeout=60)
    cursor = leases.cursor(WIKI)
    assert cursor == Cursor(new_model, with_data[1], done=False)

    revisions = DumpRevisions()
    by_page = {page.rev_id: page.page_id for page in pages}

    def regenerated(_tally) -> bool:
        rows = env.rows()
        return (all(row_model(gelr) == new_model for _, gelr in rows.values() if gelr)
                and leases.cursor(WIKI) == Cursor(new_model, with_data[-1], done=True))

    env.run(regenerated, settings=settings, revisions=revisions, timeout=90)
    assert [by_page[rev] for rev in revisions.asked] == with_data[2:], "the restarted walk goes on after its cursor"
