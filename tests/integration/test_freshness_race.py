"""A stale write never lands after a newer revision's invalidation (compare-and-set on freshness).

The race, made deterministic: the worker (this test process, the real handler and sinks) has
evaluated revision R1 and holds its row and tag in its buffers; ingest (an ``addlink run --role
ingest`` subprocess) then handles the newer revision R2 and commits its invalidation (rows deleted,
tag cleared); only then does the worker flush, in the checkpoint's order (MariaDB, then
Elasticsearch). Without the compare-and-set, R1's row and tag land after R2's invalidation and stay.
"""

from __future__ import annotations

import json
import time

import pytest

from pipeline_env import free_port, make, sample_articles, services  # noqa: F401 - fixtures
from scoring.bundle import BundleCache
from sinks.base import json_bytes
from stream.pipeline.bootstrap import build_parts, build_state
from stream.core.events import SourceMessage, WorkItem, parse_event
from stream.transport.kafka_io import make_producer
from stream.observe.metrics import OutcomeTally
from stream.core.quiet import SystemClock
from stream.pipeline.scorers import InlineScorer
from stream.pipeline.worker import WorkerHandler

pytestmark = pytest.mark.integration


def _work_message(event: dict, offset: int) -> SourceMessage:
    parsed = parse_event(json_bytes(event))
    item = WorkItem.from_event(parsed, SourceMessage("src", 0, offset, None, b"", None), include_wikitext=True)
    return SourceMessage("work", 0, offset, item.key(), item.to_json(), None)


def test_an_older_revisions_buffered_row_and_tag_never_land_after_ingest_invalidated_the_page(make) -> None:
    env = make()
    page = sample_articles()[0]
    older = env.event(page)
    newer = env.event(page, rev_id=page.rev_id + 1)
    settings = env.settings
    producer = make_producer(settings.kafka, client_id="addlink-test-worker")
    tally = OutcomeTally()
    parts = build_parts(settings, producer, tally, "worker")  # as a worker stage wires them
    store, tags = parts.store, parts.tags
    worker = WorkerHandler(settings=settings, state=build_state(settings), store=store, tags=tags, errors=parts.errors,
                           scorer=InlineScorer(BundleCache(settings.models_dir)),
                           clock=SystemClock(), sensor=tally)
    try:
        worker.handle(_work_message(older, 1))
        assert tally.summary()["outcomes"] == {"success": 1}
        assert store.pending and tags.pending, "R1's row and tag wait in the worker's buffers"

        env.publish([newer])
        ingest = env.spawn(env.write_config(**{"metrics.port": free_port()}), "--role", "ingest")
        try:
            deadline = time.monotonic() + 60
            while env.committed_lag(env.source_topic, settings.kafka.ingest_group_id) != 0:
                assert ingest.poll() is None, "ingest exited"
                assert time.monotonic() < deadline, "ingest did not commit R2's invalidation in 60 s"
                time.sleep(0.2)
        finally:
            ingest.terminate()
            ingest.wait(30)

        store.flush()  # the worker's checkpoint, late: MariaDB first, then the tag
        tags.flush()
    finally:
        store.close()
        tags.close()
    assert page.rev_id not in env.rows(page.page_id), "R1's row landed after R2's invalidation"
    assert not env.tagged(page.page_id), "R1's tag landed after R2's invalidation"
    work = [json.loads(value) for value in env.topic_messages(settings.kafka.work_topic)]
    assert [item["rev_id"] for item in work] == [page.rev_id + 1], "R2 goes on to the worker"
