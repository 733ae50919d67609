"""The whole pipeline against the real Kafka, Redis, MariaDB and Elasticsearch, with a real model
trained on real sample articles (tests/data/dumps/el-sample.xml.bz2; see its ATTRIBUTION.md).

Each test gets its own topics, consumer groups, Redis prefix, database and index (pipeline_env).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from pipeline_env import WIKI, handled, make, sample_articles, services  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration


def now_iso(offset_s: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset_s)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def assert_consistent(env, pages) -> None:
    """The invariant: per page at most one row (its revision), and a tag exactly when it has data."""
    tagged = env.tagged_pages()
    for page in pages:
        rows = env.rows(page.page_id)
        assert set(rows) <= {page.rev_id}, f"page {page.page_id}: rows of other revisions {set(rows)}"
        has_data = any(data is not None for _, data in rows.values())
        assert (page.page_id in tagged) == has_data, f"page {page.page_id}: tag {page.page_id in tagged}, data {has_data}"


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_real_articles_are_scored_stored_and_tagged(make, client) -> None:
    env = make(client=client)
    pages = sample_articles()
    env.publish(env.article_events())
    tally = env.run(lambda t: handled(t) >= len(pages), timeout=90)
    assert tally.summary()["outcomes"] == {"success": len(pages)}, "GrowthExperiments' default task settings"
    assert_consistent(env, pages)
    assert env.tagged_pages() == {page.page_id for page in pages}
    stored = [data for _, data in env.rows().values() if data is not None]
    assert stored
    gelr = json.loads(stored[0])
    assert set(gelr) == {"links", "meta"}
    link = gelr["links"][0]
    assert set(link) == {"link_text", "link_target", "match_index", "wikitext_offset", "score", "context_before",
                         "context_after", "link_index"}
    assert "model" in gelr["meta"]["dataset_checksums"]
    assert env.error_events() == []


def test_too_few_good_links_gives_growthexperiments_null_rows_and_no_tags(make) -> None:
    env = make(minimum_links_per_task=1000, maximum_links_per_task=1000)
    pages = sample_articles()
    env.publish(env.article_events())
    tally = env.run(lambda t: handled(t) >= len(pages), timeout=90)
    outcomes = tally.summary()["outcomes"]
    assert set(outcomes) <= {"good_links_count_too_small", "all_recommendations_pruned"}, outcomes
    rows = env.rows()
    assert rows and all(data is None for _, data in rows.values()), "NULL rows: evaluated, nothing usable"
    assert env.tagged_pages() == set()


def test_quiet_period_holds_an_item_until_due_and_survives_a_restart(make) -> None:
    env = make(minimum_time_since_last_edit=3600)
    page = sample_articles()[0]
    env.publish([env.event(page, rev_dt=now_iso())])
    tally = env.run(lambda t: t.held_partitions == 1, timeout=60)
    assert handled(tally) == 0, "not due for an hour: not evaluated"
    assert env.rows(page.page_id) == {}
    assert env.committed_lag(env.settings.kafka.work_topic, env.settings.kafka.worker_group_id) == 1, \
        "the held item is not committed: a restart still has it"

    later = env.run(lambda t: handled(t) >= 1, timeout=60, quiet_period_override_s=0)
    assert later.summary()["outcomes"] == {"success": 1}
    assert set(env.rows(page.page_id)) == {page.rev_id}


def test_an_item_is_evaluated_when_its_quiet_period_ends(make) -> None:
    env = make(minimum_time_since_last_edit=3)
    page = sample_articles()[1]
    edited = datetime.now(UTC)
    env.publish([env.event(page, rev_dt=edited.isoformat(timespec="milliseconds").replace("+00:00", "Z"))])
    env.run(lambda t: handled(t) >= 1, timeout=60)
    assert datetime.now(UTC) - edited >= timedelta(seconds=3), "not evaluated before its quiet period ended"
    assert set(env.rows(page.page_id)) == {page.rev_id}


def test_a_duplicate_event_is_already_stored(make) -> None:
    env = make()
    page = sample_articles()[0]
    env.publish([env.event(page)])
    env.run(lambda t: handled(t) >= 1)
    env.publish([env.event(page)])
    tally = env.run(lambda t: handled(t) >= 1)
    assert tally.summary()["outcomes"] == {"already_stored": 1}
    assert set(env.rows(page.page_id)) == {page.rev_id}
    assert env.tagged(page.page_id)


@pytest.mark.parametrize("redis_lost", [False, True], ids=["redis-intact", "redis-lost"])
def test_a_stale_event_never_resurrects_an_older_revision(make, redis_lost) -> None:
    env = make()
    page = sample_articles()[0]
    env.publish([env.event(page)])
    env.run(lambda t: handled(t) >= 1)
    assert set(env.rows(page.page_id)) == {page.rev_id}
    if redis_lost:
        env.forget_redis_state()
    env.publish([env.event(page, rev_id=page.rev_id - 1, rev_dt="2020-01-01T00:00:00Z")])
    tally = env.run(lambda t: t.summary()["dropped"].get("stale") or handled(t) >= 1)
    assert tally.summary()["dropped"] == {"stale": 1}
    assert set(env.rows(page.page_id)) == {page.rev_id}
    assert env.tagged(page.page_id)


CHANGES = {  # change -> (event arguments, invalidation counted)
    "edit": (dict(kind="edit", rev_offset=1), "edit"),
    "move": (dict(kind="move", rev_offset=1, title="Μετακινημένη σελίδα", prior_title="__old__"), "move"),
    "move_out": (dict(kind="move", rev_offset=1, title="Χρήστης:Σελίδα", namespace_id=2, prior_title="__old__",
                      prior_namespace_id=0), "moved_out"),
    "delete": (dict(kind="delete", rev_offset=0, text=None), "delete"),
    "visibility_change": (dict(kind="visibility_change", rev_offset=0, text=None, content_visible=False),
                          "content_hidden"),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_every_change_kind_invalidates_at_once(make, change) -> None:
    env = make()
    page = sample_articles()[0]
    env.publish([env.event(page)])
    env.run(lambda t: handled(t) >= 1)
    assert env.rows(page.page_id) and env.tagged(page.page_id)

    spec, counted = dict(CHANGES[change][0]), CHANGES[change][1]
    rev_id = page.rev_id + spec.pop("rev_offset")
    if spec.get("prior_title") == "__old__":
        spec["prior_title"] = page.title
    event = env.event(page, rev_id=rev_id, rev_dt=now_iso(), dt=now_iso(), **spec)
    env.publish([event])
    # A day of quiet period: nothing may wait for it; the invalidation happens as the event arrives.
    tally = env.run(lambda t: t.summary()["invalidations"], quiet_period_override_s=86_400)
    assert tally.summary()["invalidations"] == {counted: 1}
    assert env.rows(page.page_id) == {}
    assert not env.tagged(page.page_id)


def test_invalid_events_go_to_the_error_topic_and_the_stream_goes_on(make) -> None:
    env = make()
    page = sample_articles()[0]
    env.publish_raw([b"not json at all", json.dumps({"$schema": "/mediawiki/page/change/1.2.0"}).encode()])
    env.publish([env.event(page)])
    env.run(lambda t: handled(t) >= 1)
    errors = env.error_events()
    assert [e["raw_event"] for e in errors] == ["not json at all", '{"$schema": "/mediawiki/page/change/1.2.0"}']
    assert {e["error_type"] for e in errors} == {"InvalidEvent"}
    assert all(e["emitter_id"] == env.settings.emitter_id for e in errors)
    assert set(env.rows(page.page_id)) == {page.rev_id}


def test_weighted_tag_events_instead_of_elasticsearch(make) -> None:
    env = make(tags_mode="events")
    page = sample_articles()[0]
    env.publish([env.event(page)])
    env.run(lambda t: handled(t) >= 1)
    events = [json.loads(v) for v in env.topic_messages(env.settings.kafka.weighted_tags_topic)]
    assert [e["weighted_tags"] for e in events] == [
        {"clear": ["recommendation.link"]},  # ingest: a new revision invalidates at once
        {"set": {"recommendation.link": [{"tag": "exists"}]}},  # worker: the row is stored
    ]
    assert events[0]["rev_based"] is True
    assert {e["page"]["page_id"] for e in events} == {page.page_id} and events[1]["wiki_id"] == WIKI
    assert not env.tagged(page.page_id), "nothing written to Elasticsearch in events mode"
