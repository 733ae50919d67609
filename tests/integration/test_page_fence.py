"""sinks.mariadb's compare-and-set on freshness (PageWrite and its fence), on the real MariaDB."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from typing import Any

import pymysql
import pytest

from sinks.base import Fence, Freshness, PageWrite
from sinks.mariadb import FRESHNESS, RECOMMENDATIONS, MariaDBOptions, RecommendationStore

pytestmark = pytest.mark.integration

DATA = b'{"links":[],"meta":{}}'


@pytest.fixture
def wiki(mariadb_params: dict[str, Any]) -> Iterator[str]:
    wiki_id = f"t{secrets.token_hex(4)}wiki"
    yield wiki_id
    with pymysql.connect(**mariadb_params, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{wiki_id}`")


def new_store(params: dict[str, Any], wiki: str) -> RecommendationStore:
    store = RecommendationStore(MariaDBOptions(host=params["host"], port=params["port"], user=params["user"],
                                               password=params["password"] or None))
    store.ensure_schema(wiki)
    return store


def rows(params: dict[str, Any], wiki: str) -> dict[int, bytes | None]:
    with pymysql.connect(**params, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT gelr_revision, gelr_data FROM `{wiki}`.{RECOMMENDATIONS}")
        return {int(rev): data for rev, data in cur.fetchall()}


def row(wiki: str, rev: int, data: bytes | None = DATA) -> PageWrite:
    return PageWrite(wiki, 7, rev, Freshness.CURRENT, delete_below=rev, write_row=True, data=data)


def test_an_older_revisions_write_flushed_after_a_newer_invalidation_is_dropped(mariadb_params, wiki) -> None:
    worker, ingest = new_store(mariadb_params, wiki), new_store(mariadb_params, wiki)
    try:
        worker.write_page(row(wiki, 100))  # buffered, like a worker's row before its checkpoint
        ingest.write_page(PageWrite(wiki, 7, 101, Freshness.CURRENT, delete_below=101))
        assert ingest.flush().outcomes["stale"] == 0
        assert worker.flush().outcomes["stale"] == 1
        assert rows(mariadb_params, wiki) == {}
        assert worker.fences(wiki, [7, 8]) == {7: Fence(101, False)}
        worker.write_page(row(wiki, 101))  # the newer revision's own row still lands
        assert worker.flush().outcomes["replaced"] == 1
        assert rows(mariadb_params, wiki) == {101: DATA}
    finally:
        worker.close()
        ingest.close()


def test_a_tombstone_admits_only_removals_until_revived(mariadb_params, wiki) -> None:
    store = new_store(mariadb_params, wiki)
    try:
        store.write_page(row(wiki, 100))
        store.write_page(PageWrite(wiki, 7, 100, Freshness.REMOVED, delete_below=101))
        store.write_page(row(wiki, 100))  # the edit's item redelivered after the delete
        assert store.flush().outcomes["stale"] == 2, "both writes of the deleted revision are refused"
        assert rows(mariadb_params, wiki) == {} and store.fences(wiki, [7]) == {7: Fence(100, True)}
        store.write_page(PageWrite(wiki, 7, 100, Freshness.REVIVE, delete_below=100, write_row=True, data=DATA))
        assert store.flush().outcomes["stale"] == 0
        assert rows(mariadb_params, wiki) == {100: DATA} and store.fences(wiki, [7]) == {7: Fence(100, False)}
    finally:
        store.close()


def test_writers_of_one_page_are_serialised_by_the_fence_lock(mariadb_params, wiki) -> None:
    """A flush that raises the fence while another transaction holds it waits, then sees the
    other's revision: the check and the write are one step, not a read followed by a write."""
    store = new_store(mariadb_params, wiki)
    other = pymysql.connect(**mariadb_params, autocommit=False)
    try:
        with other.cursor() as cur:
            cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
            other.begin()
            cur.execute(f"INSERT INTO `{wiki}`.{FRESHNESS} (apf_page, apf_rev, apf_removed) VALUES (7, 101, 0)")
        store.write_page(row(wiki, 100))
        outcome: list[dict] = []
        flusher = threading.Thread(target=lambda: outcome.append(dict(store.flush().outcomes)))
        flusher.start()
        flusher.join(timeout=2)
        assert flusher.is_alive(), "the flush waits for the fence's lock"
        other.commit()
        flusher.join(timeout=30)
        assert outcome and outcome[0]["stale"] == 1 and rows(mariadb_params, wiki) == {}
    finally:
        other.close()
        store.close()
