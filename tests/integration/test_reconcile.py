"""`addlink reconcile` against the real MariaDB, Elasticsearch and Redis: drift planted directly in
the stores is counted by kind, repaired by --fix, and gone on the next run; what the pipeline writes
legitimately is never reported."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pymysql
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pipeline_env import REPO, WIKI, handled, make, sample_articles, services  # noqa: F401 - fixtures
from stream.pipeline.bootstrap import build_state, build_store, build_tag_sink
from stream.ops.reconcile import build_sinks, reconcile as reconcile_in_process
from stream.ops.reconciler import Reconciler
from stream.core.page_core import Drift

pytestmark = pytest.mark.integration

DATA = b'{"links":[],"meta":{"format_version":1}}'  # reconcile only looks at NULL or not


def reconcile(env, *args: str) -> tuple[int, dict]:
    result = subprocess.run([sys.executable, "-m", "stream.cli", "reconcile", "--config", str(env.write_config()),
                             "--wiki", WIKI, "--json", "--batch-size", "3", *args],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def plant(env, *, rows=(), tags=(), revisions=(), removed=()) -> None:
    """rows: (page, rev, data|None); tags: pages; revisions / removed: (page, rev) Redis records."""
    store, tagger, state = build_store(env.settings), build_tag_sink(env.settings, None), build_state(env.settings)
    try:
        for page, rev, data in rows:
            store.replace(WIKI, page, rev, data)
        store.flush()
        for page in tags:
            tagger.set_link_tag(WIKI, page)
        tagger.flush()
        for page, rev in revisions:
            assert state.record_revision(WIKI, page, rev)
        for page, rev in removed:
            assert state.mark_removed(WIKI, page, rev)
    finally:
        store.close()
        tagger.close()
    env.tagged_pages()  # refresh the index, so reconcile's search sees the planted tags


def state_of(env, page: int) -> tuple[dict[int, bool], bool]:
    """(revision -> has data, tagged), read with plain clients."""
    return {rev: data is not None for rev, (_, data) in env.rows(page).items()}, env.tagged(page)


@pytest.fixture
def env(make):
    return make()


def test_planted_drift_is_counted_by_kind_fixed_and_gone_on_the_next_run(env, tmp_path: Path) -> None:
    plant(
        env,
        rows=[(101, 1010, DATA), (102, 1020, None),           # consistent: row+tag, NULL row
              (202, 2020, None),                               # tag on a NULL row
              (301, 3010, DATA),                               # row without its tag
              (401, 4010, DATA), (402, 4020, DATA), (402, 4021, DATA),  # stale rows
              (501, 5010, DATA)],                              # row (and tag) of a deleted page
        tags=[101, 201, 202, 401, 402, 501, 502],
        revisions=[(101, 1010), (102, 1020), (202, 2020), (401, 4011), (501, 5010), (502, 5020)],
        removed=[(501, 5010), (502, 5020)],
    )
    expected = {"tag_without_row": 2, "row_without_tag": 1, "stale_row": 2, "removed_page_row": 2}

    status, report = reconcile(env)
    assert status == 1, "drift remains after a dry run"
    assert report["drift"] == expected
    assert report["fixed"] == dict.fromkeys(expected, 0)
    assert report["pages_checked"] == 9, "7 pages with rows + 2 tagged pages without rows"
    assert sorted(report["samples"]["tag_without_row"]) == [201, 202]
    assert report["samples"]["row_without_tag"] == [301]
    assert sorted(report["samples"]["stale_row"]) == [401, 402]
    assert sorted(report["samples"]["removed_page_row"]) == [501, 502]
    assert state_of(env, 401) == ({4010: True}, True), "a dry run changes nothing"

    metrics = tmp_path / "addlink_reconcile_elwiki.prom"
    status, report = reconcile(env, "--fix", "--metrics-file", str(metrics))
    assert status == 0
    assert report["drift"] == expected and report["fixed"] == expected
    assert sum(report["remaining"].values()) == 0

    assert state_of(env, 101) == ({1010: True}, True)
    assert state_of(env, 102) == ({1020: False}, False)
    assert state_of(env, 201) == ({}, False)
    assert state_of(env, 202) == ({2020: False}, False)
    assert state_of(env, 301) == ({3010: True}, True)
    assert state_of(env, 401) == ({}, False), "row of 4010 while Redis knows 4011: deleted, tag cleared"
    assert state_of(env, 402) == ({4021: True}, True), "only the older revision's row is deleted"
    assert state_of(env, 501) == ({}, False)
    assert state_of(env, 502) == ({}, False)

    samples = {(s.name, s.labels.get("kind")): s.value
               for family in text_string_to_metric_families(metrics.read_text())
               for s in family.samples if s.labels.get("wiki") == WIKI}
    assert samples[("addlink_reconcile_drift", "stale_row")] == 2
    assert samples[("addlink_reconcile_fixed", "removed_page_row")] == 2
    assert samples[("addlink_reconcile_pages_checked", None)] == 9

    status, report = reconcile(env, "--fix")
    assert status == 0
    assert sum(report["drift"].values()) == 0
    assert report["pages_checked"] == 5, "the pages left with a row or a tag: 101, 102, 202, 301, 402"


def test_what_the_pipeline_writes_and_a_null_row_are_not_drift(env) -> None:
    pages = sample_articles()
    env.publish(env.article_events())
    tally = env.run(lambda t: handled(t) >= len(pages), timeout=90)
    assert tally.summary()["outcomes"] == {"success": len(pages)}
    null_page = max(page.page_id for page in pages) + 1
    plant(env, rows=[(null_page, 777, None)], revisions=[(null_page, 777)])

    status, report = reconcile(env)
    assert (status, report["drift"]) == (0, dict.fromkeys(report["drift"], 0))
    assert report["pages_checked"] == len(pages) + 1
    assert env.tagged_pages() == {page.page_id for page in pages}, "legitimate tags exist, and were checked"


def test_fix_while_the_consumer_writes_leaves_every_page_consistent(env) -> None:
    """Edits keep arriving (ingest invalidates, the worker rewrites) while reconcile --fix runs again
    and again, without a grace period so its repairs race the consumer's writes in flight; once the
    pipeline caught up, each page holds exactly its last revision's row and tag."""
    pages = sample_articles()
    rounds = 5
    revision = {(k, page.page_id): 3_000_000_000 + 1000 * k + i for k in range(rounds) for i, page in enumerate(pages)}
    plant(env, rows=[(999_999, 5, DATA)], tags=[999_999], revisions=[(999_999, 6)])  # stale drift to repair
    done: list[object] = []
    worker = threading.Thread(target=lambda: done.append(env.run(lambda t: handled(t) >= rounds * len(pages),
                                                                 timeout=180)), daemon=True)
    worker.start()
    runs = []
    for k in range(rounds):
        env.publish([env.event(page, rev_id=revision[k, page.page_id]) for page in pages])
        runs.append(reconcile_in_process(env.settings, WIKI, fix=True, batch_size=2, grace_s=0))
        time.sleep(0.2)
    while worker.is_alive():
        runs.append(reconcile_in_process(env.settings, WIKI, fix=True, batch_size=2, grace_s=0))
    worker.join()
    assert done, "the pipeline did not catch up"
    assert runs[0].found[Drift.STALE_ROW] >= 1 and state_of(env, 999_999) == ({}, False)

    final = reconcile_in_process(env.settings, WIKI, fix=False)
    assert sum(final.found.values()) == 0, final.as_json()
    for page in pages:
        assert state_of(env, page.page_id) == ({revision[rounds - 1, page.page_id]: True}, True), page.page_id


def test_a_newer_revision_landing_between_the_read_and_the_repair_survives(env) -> None:
    """Reconcile reads a page whose only row (R1, tagged) is stale: Redis knows R2, so the repair is
    "rows below R2 deleted, tag cleared, for R2". Just before that repair is written, the page is
    edited again and the real pipeline handles R3 (ingest raises the fence and invalidates, the
    worker writes R3's row and tag). The repair, decided for R2, is refused by the fence: R3's row
    and tag are there right after the repair's flushes, not only after reconcile's read-back."""
    page = sample_articles()[0]
    r1, r2, r3 = page.rev_id, page.rev_id + 1, page.rev_id + 2
    plant(env, rows=[(page.page_id, r1, DATA)], tags=[page.page_id], revisions=[(page.page_id, r2)])
    store, tags = build_sinks(env.settings)
    raced: list[object] = []
    flushed: list[tuple[str, dict[str, int], tuple[dict[int, bool], bool]]] = []

    class NewerRevisionFirst:
        """The row store, with R3 landing between reconcile's read and its first write."""

        def __getattr__(self, name: str):
            return getattr(store, name)

        def write_page(self, write) -> None:
            if not raced:
                env.publish([env.event(page, rev_id=r3)])
                raced.append(env.run(lambda t: handled(t) >= 1, timeout=90))
            store.write_page(write)

        def flush(self):
            return recorded("rows", store.flush())

    class RecordedTags:
        def __getattr__(self, name: str):
            return getattr(tags, name)

        def flush(self):
            return recorded("tags", tags.flush())

    def recorded(sink: str, result):
        flushed.append((sink, dict(result.outcomes), state_of(env, page.page_id)))
        return result

    try:
        report = Reconciler(WIKI, NewerRevisionFirst(), RecordedTags(), build_state(env.settings), fix=True).run()
    finally:
        store.close()
        tags.close()
    assert raced and raced[0].summary()["outcomes"] == {"success": 1}, "R3 went through the pipeline"
    assert [(sink, outcomes["stale"]) for sink, outcomes, _ in flushed] == [("rows", 1), ("tags", 1)]
    assert [state for *_, state in flushed] == [({r3: True}, True)] * 2, "the repair for R2 undid R3's state"
    assert report.found[Drift.STALE_ROW] == 1 and report.fixed[Drift.STALE_ROW] == 1
    assert state_of(env, page.page_id) == ({r3: True}, True)


def test_a_wiki_whose_rows_predate_the_fence_table_is_reconciled(env) -> None:
    """GrowthExperiments' tables exist (e.g. filled by its own refresh script), our fence table not
    yet: reconcile creates it, as the consumer's first write would, and reads and repairs as usual."""
    plant(env, rows=[(601, 6010, DATA)], revisions=[(601, 6011)])
    connection = pymysql.connect(**env.services.mariadb, database=env.database, autocommit=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE addlink_page_freshness")
    finally:
        connection.close()
    status, report = reconcile(env, "--fix")
    assert (status, report["drift"]["stale_row"], report["fixed"]["stale_row"]) == (0, 1, 1)
    assert state_of(env, 601) == ({}, False)


def test_events_mode_has_no_index_to_compare_and_says_so(env) -> None:
    result = subprocess.run([sys.executable, "-m", "stream.cli", "reconcile", "--config",
                             str(env.write_config(tags_mode="events")), "--wiki", WIKI],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "tags_mode is 'events'" in result.stderr and result.stdout == ""
