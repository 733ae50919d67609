"""Every GrowthExperiments eligibility rule end to end: real Kafka, Redis, MariaDB and
Elasticsearch, the real stages (PipelineEnv.run), a real model and real articles
(tests/data/dumps/el-sample.xml.bz2, elwiki, CC BY-SA; titles and revision ids in its
ATTRIBUTION.md). Each rule is checked twice: the outcome counted under GrowthExperiments' exact
name (reference growthexperiments.md §1.5, §2.1) AND what the stores hold afterwards (no row and
no tag, or the NULL row exactly where GrowthExperiments writes one).

Articles used (delinked, see pipeline_env.delinked; word counts of the delinked text):
    20   Αθλητισμός   1251 words, category Αθλητισμός
    840  Συνάρτηση    4499 words
    983  Ροδόπη       3465 words, 17 links from the test model: the base of every copy below
    1032 1948         1558 words, template Έτος
    1064 20 Ιανουαρίου 888 words
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pymysql
import pytest
from confluent_kafka.admin import AdminClient

from pipeline_env import WIKI, PipelineEnv, delinked, handled, make, sample_articles, services  # noqa: F401
from scoring.bundle import BundleCache
from scoring.recommend import recommend
from stream.pipeline.bootstrap import build_store
from stream.config import WikiSettings
from stream.transport.kafka_io import ensure_topics

pytestmark = pytest.mark.integration

ROLES = {page.page_id: page for page in sample_articles()}
SPORT, FUNCTION, RHODOPE, YEAR, DAY = (ROLES[i] for i in (20, 840, 983, 1032, 1064))


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def copy_of_rhodope(env: PipelineEnv, page_id: int, *, extra_text: str = "", **changes: Any) -> dict[str, Any]:
    """An edit of Ροδόπη under another page id (same title, so the model proposes the same links)."""
    args: dict[str, Any] = {"page_id": page_id, "rev_id": page_id * 10, "text": delinked(RHODOPE.text) + extra_text}
    return env.event(RHODOPE, **(args | changes))


def expected_links(max_links: int) -> list[dict[str, Any]]:
    """What the model proposes for (delinked) Ροδόπη, computed with the same bundle the worker loads."""
    from pipeline_env import trained_models_dir

    bundle = BundleCache(trained_models_dir()).get(WIKI)
    result = recommend(delinked(RHODOPE.text), title=RHODOPE.title, page_id=RHODOPE.page_id, rev_id=RHODOPE.rev_id,
                       bundle=bundle, threshold=0.6, max_links=max_links)
    return [{"link_target": link.link_target, "link_index": link.link_index} for link in result.links]


def stored_links(env: PipelineEnv, rev_id: int) -> list[dict[str, Any]]:
    data = env.rows()[rev_id][1]
    assert data is not None, f"revision {rev_id} has a NULL row"
    return [{"link_target": link["link_target"], "link_index": link["link_index"]}
            for link in json.loads(data)["links"]]


def add_submissions(env: PipelineEnv, rows: Iterable[tuple[int, int, int, int | None, str]]) -> None:
    """Rows of growthexperiments_link_submissions as MediaWiki writes them on a reviewer's save:
    (gels_revision, gels_page, gels_target, gels_edit_revision, gels_feedback)."""
    build_store(env.settings).ensure_schema(WIKI)
    connection = pymysql.connect(**env.services.mariadb, database=env.database, autocommit=True)
    try:
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO growthexperiments_link_submissions (gels_revision, gels_anchor_offset, gels_target,"
                " gels_page, gels_edit_revision, gels_user, gels_anchor_length, gels_feedback)"
                " VALUES (%s, %s, %s, %s, %s, 1, 5, %s)",
                [(rev, offset, target, page, edit_rev, feedback)
                 for offset, (rev, page, target, edit_rev, feedback) in enumerate(rows)],
            )
    finally:
        connection.close()


def assert_untouched(env: PipelineEnv, page_id: int) -> None:
    assert env.rows(page_id) == {}, f"page {page_id}: no row"
    assert not env.tagged(page_id), f"page {page_id}: no tag"


# --------------------------------------------------------------------------- the rules


def test_every_rule_counted_under_growthexperiments_name_and_the_stores_match(make) -> None:
    env = make(minimum_word_count=1000, maximum_word_count=4000, maximum_links_per_task=4,
               excluded_templates=["Template:Έτος"], excluded_categories=["Category:Αθλητισμός"])
    # Pages 7xxxxx are copies of Ροδόπη; their facts in MariaDB are set up before their events.
    link_edit, reverting, known_null, submitted = 700_001, 700_002, 700_003, 700_004
    add_submissions(env, [
        (link_edit * 10 - 3, link_edit, 1, link_edit * 10, "a"),  # the edit's revision IS an Add-a-Link save
        (reverting * 10 - 9, reverting, 1, reverting * 10 - 5, "a"),  # an Add-a-Link save the edit reverts
        (submitted * 10, submitted, 1, None, "r"),  # reviewers already answered for this very revision
    ])
    store = build_store(env.settings)
    store.replace(WIKI, known_null, known_null * 10, None)  # evaluated before: nothing usable (GE's NULL row)
    store.flush()
    revert = copy_of_rhodope(env, reverting)
    revert["revision"]["revert"] = {"method": "undo", "is_exact": True, "rev_original_id": reverting * 10 - 6,
                                    "rev_reverted_oldest_id": reverting * 10 - 5,
                                    "rev_reverted_newest_id": reverting * 10 - 4}
    no_content = env.event(RHODOPE, page_id=700_010, rev_id=7_000_100, text=None,
                           stream="mediawiki.page_change.v1")
    env.publish([
        env.event(RHODOPE),  # control: every rule passes
        env.event(SPORT),  # excluded category
        env.event(YEAR),  # excluded template ("Template:" prefix configured, stripped)
        env.event(DAY),  # 888 words < minimum_word_count 1000
        env.event(FUNCTION),  # 4499 words > maximum_word_count 4000
        copy_of_rhodope(env, 700_005, extra_text="\n{{αποσαφήνιση}}\n"),  # elwiki's own disambiguation template
        copy_of_rhodope(env, 700_006, extra_text="\n__DISAMBIG__\n"),
        copy_of_rhodope(env, link_edit),
        revert,
        copy_of_rhodope(env, known_null),
        copy_of_rhodope(env, submitted),
        copy_of_rhodope(env, 700_011, content_model="json"),
        no_content,
        # Not candidates at all: GrowthExperiments never selects them, so they are not outcomes.
        copy_of_rhodope(env, 700_020, domain="canary"),
        copy_of_rhodope(env, 700_021, wiki_id="frwiki"),
        copy_of_rhodope(env, 700_022, wiki_id="ukwiki"),  # configured but disabled
        copy_of_rhodope(env, 700_023, namespace_id=2, title="Χρήστης:Ροδόπη"),
        copy_of_rhodope(env, 700_024, is_redirect=True, text="#ΑΝΑΚΑΤΕΥΘΥΝΣΗ [[Ροδόπη]]"),
    ])
    settings = env.settings.model_copy(update={"wikis": {
        **env.settings.wikis, "ukwiki": WikiSettings(language="uk", enabled=False)}})

    tally = env.run(lambda t: handled(t) >= 14 and sum(t.summary()["dropped"].values()) >= 4, settings=settings)

    summary = tally.summary()
    assert summary["outcomes"] == {
        "success": 1,
        "excluded_category": 1,
        "excluded_template": 1,
        "other": 5,  # word count low, word count high, submission exists, json model, no content
        "disambiguation_page": 2,
        "last_edit_link_recommendation": 1,
        "last_edit_link_recommendation_revert": 1,
        "known_unavailable": 1,
    }
    assert summary["skipped"] == {"redirect": 1}
    assert summary["dropped"] == {"canary": 1, "wiki_not_enabled": 2, "not_content_namespace": 1}

    # The control is stored with at most maximum_links_per_task links (the model proposes 17).
    assert len(expected_links(max_links=100)) > 4
    assert stored_links(env, RHODOPE.rev_id) == expected_links(max_links=4)
    assert env.tagged(RHODOPE.page_id)
    # known_unavailable keeps its NULL row and gets no tag; every other failure leaves nothing.
    assert env.rows(known_null) == {known_null * 10: (known_null, None)}
    assert not env.tagged(known_null)
    for page_id in (SPORT.page_id, YEAR.page_id, DAY.page_id, FUNCTION.page_id, 700_005, 700_006, link_edit,
                    reverting, submitted, 700_010, 700_011, 700_020, 700_021, 700_022, 700_023, 700_024):
        assert_untouched(env, page_id)
    assert env.error_events() == [], "none of these is an error"


def test_rejected_and_vanished_targets_are_pruned(make) -> None:
    env = make(maximum_links_per_task=4)
    links = expected_links(max_links=4)
    targets = [link["link_target"] for link in links]
    target_ids = [900_001 + i for i in range(4)]
    # The stream learns each target's page id from its creation event (titles -> ids, stream/pipeline/state.py).
    env.publish([env.event(RHODOPE, page_id=page_id, rev_id=page_id * 10, title=title, kind="create",
                           text=f"'''{title}'''.") for page_id, title in zip(target_ids, targets, strict=True)])
    env.run(lambda t: handled(t) >= 4)

    # Reviewers rejected every target twice on page A; on page B target 1 twice, target 2 only once.
    page_a, page_b = 600_001, 600_002
    add_submissions(env, [
        *[(page_a * 10 - 1, page_a, target, None, "r") for target in target_ids],
        *[(page_a * 10 - 2, page_a, target, None, "r") for target in target_ids],
        (page_b * 10 - 1, page_b, target_ids[1], None, "r"),
        (page_b * 10 - 2, page_b, target_ids[1], None, "r"),
        (page_b * 10 - 1, page_b, target_ids[2], None, "r"),
        (page_b * 10 - 2, page_b, target_ids[2], None, "a"),
    ])
    env.publish([copy_of_rhodope(env, page_a), copy_of_rhodope(env, page_b)])
    tally = env.run(lambda t: handled(t) >= 2)
    assert tally.summary()["outcomes"] == {"all_recommendations_pruned": 1, "success": 1}
    assert env.rows(page_a) == {page_a * 10: (page_a, None)}, "all pruned, no red link: GE's NULL row"
    assert not env.tagged(page_a)
    assert stored_links(env, page_b * 10) == [links[0], links[2], links[3]], "order kept, link_index not renumbered"
    assert env.tagged(page_b)

    # Target 0 deleted, target 2 moved out of the article namespace without a redirect: both are red links.
    later = now_iso()
    page_c = 600_003
    env.publish([
        env.event(RHODOPE, kind="delete", page_id=target_ids[0], rev_id=target_ids[0] * 10, title=targets[0],
                  text=None, rev_dt=later),
        env.event(RHODOPE, kind="move", page_id=target_ids[2], rev_id=target_ids[2] * 10 + 1, title="Χρήστης:Μετακίνηση",
                  namespace_id=2, prior_title=targets[2], prior_namespace_id=0, text="x", rev_dt=later),
        copy_of_rhodope(env, page_c),
    ])
    tally = env.run(lambda t: handled(t) >= 3)
    assert tally.summary()["outcomes"] == {"success": 1} and tally.summary()["skipped"] == {"removed": 2}
    assert stored_links(env, page_c * 10) == [links[1], links[3]]

    # The other two vanish as well (one deleted, one moved to another title leaving no redirect):
    # everything pruned, red links among them, so GrowthExperiments writes NO NULL row.
    page_d = 600_004
    env.publish([
        env.event(RHODOPE, kind="delete", page_id=target_ids[1], rev_id=target_ids[1] * 10, title=targets[1],
                  text=None, rev_dt=now_iso()),
        env.event(RHODOPE, kind="move", page_id=target_ids[3], rev_id=target_ids[3] * 10 + 1, title="Νέος τίτλος",
                  prior_title=targets[3], text=f"'''{targets[3]}'''.", rev_dt=now_iso()),
        copy_of_rhodope(env, page_d),
    ])
    tally = env.run(lambda t: handled(t) >= 3)
    assert tally.summary()["outcomes"] == {"all_recommendations_pruned": 2}, "page D, and the moved stub itself"
    assert tally.summary()["skipped"] == {"removed": 1}
    assert_untouched(env, page_d)
    assert env.error_events() == []


# --------------------------------------------------------------------------- order across data centres


def test_redis_lost_between_two_data_centres_edits_the_newer_revision_wins(make) -> None:
    """codfw carries the newer edit R2 and is ingested first; Redis is emptied; eqiad's older edit
    R1 arrives. Both items reach the worker together (as after a quiet period): R1 must not be
    stored next to R2, whatever was committed when R1 is evaluated."""
    env = make()
    eqiad = env.source_topic
    codfw = eqiad + ".codfw"
    ensure_topics(env.settings.kafka, {codfw: 1})
    settings = env.settings.model_copy(update={"kafka": env.settings.kafka.model_copy(
        update={"source_topics": (eqiad, codfw)})})
    page = RHODOPE
    older, newer = page.rev_id, page.rev_id + 1
    try:
        env.publish([env.event(page, rev_id=newer, rev_dt=now_iso())], topic=codfw)
        env.run(lambda t: t.summary()["work_items"], role="ingest", settings=settings)
        env.forget_redis_state()
        env.publish([env.event(page, rev_id=older)], topic=eqiad)
        env.run(lambda t: t.summary()["work_items"], role="ingest", settings=settings)

        env.run(lambda t: handled(t) >= 2, role="worker", settings=settings)
        assert set(env.rows(page.page_id)) == {newer}, "only the newer revision's row"
        assert env.tagged(page.page_id)
    finally:
        AdminClient({"bootstrap.servers": env.services.kafka}).delete_topics([codfw], operation_timeout=10)
