"""Consumer lag (`addlink_consumer_lag`) against the real broker: every assigned partition is
reported, idle ones included, and a partition moved to another worker by a rebalance is reported
by its new owner only. Real stages, real model, a real sample article (tests/data/dumps, see its
ATTRIBUTION.md)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest

from pipeline_env import PipelineEnv, make, sample_articles, services  # noqa: F401 - fixtures
from stream.pipeline.bootstrap import Observability
from stream.cli.run import build_stages, run_stages
from stream.observe.metrics import OutcomeTally

pytestmark = pytest.mark.integration


@contextmanager
def running(env: PipelineEnv, role: str) -> Iterator[tuple[Observability, OutcomeTally]]:
    """The real stages of ``role`` in a thread, with their metrics registry; stopped on exit."""
    tally = OutcomeTally()
    obs = Observability(extra_sensors=[tally])
    stop = threading.Event()
    stages = build_stages(env.settings, role, obs, stop)
    status: list[int] = []
    thread = threading.Thread(target=lambda: status.append(run_stages(stages, stop)), daemon=True)
    thread.start()
    try:
        yield obs, tally
    finally:
        stop.set()
        thread.join(timeout=60)
    assert status == [0]


def lags(obs: Observability, role: str, topic: str) -> dict[int, float]:
    """partition -> current addlink_consumer_lag sample of ``role`` on ``topic``."""
    found = {}
    for family in obs.registry.collect():
        if family.name == "addlink_consumer_lag":
            for sample in family.samples:
                if sample.labels["role"] == role and sample.labels["topic"] == topic:
                    found[int(sample.labels["partition"])] = sample.value
    return found


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_lag_is_reported_for_every_assigned_partition_idle_ones_included(make) -> None:
    env = make(minimum_time_since_last_edit=3600, partitions=4)
    work, source = env.settings.kafka.work_topic, env.source_topic
    page = sample_articles()[0]
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    env.publish([env.event(page, rev_dt=now)])  # held by the worker for an hour: one unhandled message
    with running(env, "all") as (obs, tally):
        wait_for(lambda: tally.held_partitions == 1, 60, "the item held")
        wait_for(lambda: len(lags(obs, "worker", work)) == 4 and 1 in lags(obs, "worker", work).values(), 30,
                 "lag of all four work partitions")
        worker = lags(obs, "worker", work)
        held = [p for p, lag in worker.items() if lag == 1]
        assert len(held) == 1 and sorted(worker.values()) == [0, 0, 0, 1], worker
        wait_for(lambda: lags(obs, "ingest", source) == {0: 0}, 30, "the source partition's lag")

        # Two newer revisions of the page queue up behind the held item on its partition.
        env.publish([env.event(page, rev_id=page.rev_id + n, rev_dt=now) for n in (1, 2)])
        wait_for(lambda: lags(obs, "worker", work).get(held[0]) == 3, 30, "lag 3 on the held partition")
        assert sorted(lags(obs, "worker", work).values()) == [0, 0, 0, 3]


def test_a_partition_moved_by_a_rebalance_is_reported_by_its_new_owner_only(make) -> None:
    env = make(partitions=4)
    work = env.settings.kafka.work_topic
    with running(env, "worker") as (first, _):
        wait_for(lambda: set(lags(first, "worker", work)) == {0, 1, 2, 3}, 60, "the first worker owning all four")
        with running(env, "worker") as (second, _):
            def split() -> bool:
                mine, theirs = set(lags(first, "worker", work)), set(lags(second, "worker", work))
                return bool(mine) and bool(theirs) and mine | theirs == {0, 1, 2, 3} and not mine & theirs

            wait_for(split, 60, "the partitions split between the two workers, each reported once")
