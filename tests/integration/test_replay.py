"""`addlink replay`: bounded replays by record time, through the real pipeline and services."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

from pipeline_env import REPO, make, sample_articles, services  # noqa: F401 - fixtures
from stream.ops.replay import replay

pytestmark = pytest.mark.integration


@pytest.fixture
def env(make):
    return make()


def publish_in_two_batches(env):
    """Publish the first three articles, then (after a gap) the others; return (early, late, boundary)."""
    pages = sample_articles()
    early, late = pages[:3], pages[3:]
    env.publish(env.article_events(early))
    time.sleep(1.0)
    boundary = datetime.now(UTC)
    time.sleep(1.0)
    env.publish(env.article_events(late))
    return early, late, boundary


def stored_pages(env) -> set[int]:
    return {page for page, _ in env.rows().values()}


def test_replay_from_a_time_processes_only_what_came_after(env) -> None:
    early, late, boundary = publish_in_two_batches(env)
    status, summary = replay(env.settings, since=boundary, until=None, quiet_period_s=0, progress=False)
    assert status == 0
    assert summary["events_in"] == {"elwiki": len(late)}
    assert sum(summary["outcomes"].values()) == len(late)
    assert stored_pages(env) == {page.page_id for page in late}


def test_two_workers_replay_every_page_of_the_range(env) -> None:
    early, late, boundary = publish_in_two_batches(env)
    status, summary = replay(env.settings, since=boundary, until=None, quiet_period_s=0, progress=False, workers=2)
    assert status == 0
    assert summary["events_in"] == {"elwiki": len(late)}
    # At least once: an item whose commit a rebalance interrupted is evaluated again by its new owner.
    assert sum(summary["outcomes"].values()) >= len(late)
    assert stored_pages(env) == {page.page_id for page in late}


def test_replay_until_a_time_stops_there(env) -> None:
    early, late, boundary = publish_in_two_batches(env)
    status, summary = replay(env.settings, since=None, until=boundary, quiet_period_s=0, progress=False)
    assert status == 0
    assert sum(summary["outcomes"].values()) == len(early)
    assert stored_pages(env) == {page.page_id for page in early}


def test_replay_command_exits_zero_with_a_summary_and_keeps_the_live_groups_position(env) -> None:
    pages = sample_articles()
    env.publish(env.article_events())
    config = env.write_config()
    done = subprocess.run(
        [sys.executable, "-m", "stream.cli", "replay", "--config", str(config), "--from", "earliest",
         "--quiet-period", "0", "--json", "--no-progress"],
        cwd=REPO, capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["status"] == 0 and summary["seconds"] > 0
    assert sum(summary["outcomes"].values()) == len(pages)
    assert stored_pages(env) == {page.page_id for page in pages}
    # The live ingest group was not moved: `addlink run` would still read every event.
    assert env.committed_lag(env.source_topic, env.settings.kafka.ingest_group_id) == len(pages)
