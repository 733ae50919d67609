"""A write one service refuses for good is isolated to its page: one wiki's broken Elasticsearch
index or a row MariaDB refuses never stops the other wikis, and never leaves a row without its tag.

Real services, real sample articles of two wikis (elwiki and ukwiki, each with its own bundle
trained from its sample dump; tests/data/dumps, see ATTRIBUTION.md).
"""

from __future__ import annotations

import functools
import json
import secrets
from pathlib import Path
from typing import Any

import pymysql
import pytest
from elasticsearch import Elasticsearch

from pipeline_env import (  # noqa: F401 - fixtures
    DUMPS,
    delinked,
    handled,
    make,
    sample_articles,
    services,
    trained_models_dir,
)
from sinks.base import Freshness, PageWrite
from sinks.mariadb import RECOMMENDATIONS, MariaDBOptions, RecommendationStore
from stream.ops.backfill import page_change_event, wiki_domain
from stream.config import Settings

pytestmark = pytest.mark.integration

BROKEN = "ukwiki"


@functools.cache
def models_with_ukwiki() -> Path:
    """The shared test models directory, plus a ukwiki bundle trained on the uk sample dump."""
    from scoring.train import train

    directory = trained_models_dir()
    train(DUMPS / "uk-sample.xml.bz2", directory, wiki=BROKEN, language="uk", force=True, progress=False, max_rounds=20)
    return directory


def two_wiki_settings(settings: Settings, uid: str) -> Settings:
    data = settings.model_dump(mode="json", exclude_none=True)
    data["models_dir"] = str(models_with_ukwiki())
    # a tiny model scores low: any link it proposes makes a task, so tags are set (and refused)
    data["wikis"][BROKEN] = {"language": "uk", "minimum_time_since_last_edit": 0, "minimum_link_score": 0.0,
                            "minimum_links_per_task": 1, "database": f"addlink_test_{uid}_{BROKEN}"}
    return Settings(**data)


def test_one_wikis_broken_index_never_stops_another_and_leaves_no_row_without_its_tag(make, services) -> None:
    env = make()
    settings = two_wiki_settings(env.settings, env.uid)
    es = Elasticsearch(services.elasticsearch)
    broken_index = settings.index_for(BROKEN)
    # A mapping that rejects the field: every tag set on this wiki fails with mapper_parsing_exception.
    es.indices.create(index=broken_index, mappings={"properties": {"weighted_tags": {"type": "long"}}})
    uk_pages = sample_articles("uk-sample.xml.bz2")
    el_pages = sample_articles()
    try:
        env.publish([page_change_event(wiki_id=BROKEN, domain=wiki_domain(BROKEN, "uk"), page_id=page.page_id,
                                       title=page.title, rev_id=page.rev_id, rev_dt=page.timestamp,
                                       text=delinked(page.text)) for page in uk_pages])
        env.publish(env.article_events())
        env.run(lambda t: handled(t) >= len(uk_pages) + len(el_pages), timeout=120, settings=settings)

        assert env.tagged_pages() == {page.page_id for page in el_pages}, "elwiki kept flowing"
        assert all(set(env.rows(page.page_id)) == {page.rev_id} for page in el_pages)
        uk_rows = rows_of(services.mariadb, settings.database_for(BROKEN))
        assert [rev for rev, data in uk_rows.items() if data is not None] == [], \
            "a row whose tag Elasticsearch refused is taken back: no row without its tag"
        failures = [event for event in env.error_events() if "PermanentWriteFailure" in json.dumps(event)]
        failed_pages = {json.loads(event["raw_event"])["page_id"] for event in failures}
        assert failed_pages and failed_pages <= {page.page_id for page in uk_pages}
        assert all("parsing_exception" in json.dumps(event) for event in failures)
    finally:
        es.indices.delete(index=broken_index, ignore_unavailable=True)
        es.close()
        drop_database(services.mariadb, settings.database_for(BROKEN))


def test_a_row_mariadb_refuses_is_isolated_to_its_page(mariadb_params: dict[str, Any]) -> None:
    good, bad = f"t{secrets.token_hex(4)}wiki", f"t{secrets.token_hex(4)}wiki"
    refused: list[tuple[Any, str]] = []
    store = RecommendationStore(MariaDBOptions(host=mariadb_params["host"], port=mariadb_params["port"],
                                               user=mariadb_params["user"], password=mariadb_params["password"] or None),
                                on_failure=lambda write, reason: refused.append((write, reason)))
    try:
        for wiki in (good, bad):
            store.ensure_schema(wiki)
        # a table that cannot hold the JSON: MariaDB refuses the row (strict mode, data too long)
        run(mariadb_params, f"ALTER TABLE `{bad}`.{RECOMMENDATIONS} MODIFY gelr_data TINYBLOB DEFAULT NULL")
        data = json.dumps({"links": [{"link_text": "x" * 400}], "meta": {}}).encode()
        writes = [PageWrite(good, 1, 10, Freshness.CURRENT, write_row=True, data=data),
                  PageWrite(bad, 2, 20, Freshness.CURRENT, write_row=True, data=data),
                  PageWrite(good, 3, 30, Freshness.CURRENT, write_row=True, data=data)]
        for write in writes:
            store.write_page(write)
        result = store.flush()
        assert result.outcomes["failed"] == 1 and result.outcomes["replaced"] == 2
        assert [write for write, _ in refused] == [writes[1]] and "too long" in refused[0][1].lower()
        assert rows_of(mariadb_params, good) == {10: data, 30: data}
        assert rows_of(mariadb_params, bad) == {}
        assert store.pending == 0, "the refused write is not retried forever"
    finally:
        store.close()
        for wiki in (good, bad):
            drop_database(mariadb_params, wiki)


def run(params: dict[str, Any], statement: str) -> tuple:
    with pymysql.connect(**params, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(statement)
        return cur.fetchall()


def rows_of(params: dict[str, Any], database: str) -> dict[int, bytes | None]:
    try:
        return {int(rev): data for rev, data in run(params, f"SELECT gelr_revision, gelr_data FROM "
                                                            f"`{database}`.{RECOMMENDATIONS}")}
    except pymysql.err.ProgrammingError:
        return {}


def drop_database(params: dict[str, Any], database: str) -> None:
    run(params, f"DROP DATABASE IF EXISTS `{database}`")
