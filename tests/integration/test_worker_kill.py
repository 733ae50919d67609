"""`addlink run` processes: a worker killed with SIGKILL and restarted loses and duplicates nothing;
two workers in one consumer group share the work. Real services, real model, real articles."""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.request

import pytest
from confluent_kafka.admin import AdminClient

from pipeline_env import free_port, make, metric, sample_articles, services  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration

COPIES = 40  # each sample article is published under this many page ids: 200 pages, enough that the
# worker is still busy when it is killed (50 were all done before the first check saw 10 rows)


@pytest.fixture
def env(make):
    return make()


def many_pages(env):
    """(page_id, rev_id) of every published page, after publishing them."""
    events = []
    for copy in range(COPIES):
        for page in sample_articles():
            page_id = 100_000 + copy * 10_000 + page.page_id
            events.append(env.event(page, page_id=page_id, rev_id=page_id))
    env.publish(events)
    return {(e["page"]["page_id"], e["revision"]["rev_id"]) for e in events}


def wait_for(condition, timeout: float, what: str, processes=()) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        for process in processes:
            assert process.poll() is None, f"a process exited with {process.returncode} while waiting for {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def work_lag(env) -> int:
    return env.committed_lag(env.settings.kafka.work_topic, env.settings.kafka.worker_group_id)


def stop(process: subprocess.Popen, timeout: float = 30) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    return process.wait(timeout=timeout)


def group_members(kafka: str, group: str) -> int:
    admin = AdminClient({"bootstrap.servers": kafka})
    description = admin.describe_consumer_groups([group])[group].result(timeout=10)
    stable = str(description.state).endswith("STABLE")
    return len(description.members) if stable else 0


def ready(port: int) -> bool:
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz/ready", timeout=2).status == 200
    except OSError:
        return False


def assert_every_page_done_once(env, pages) -> None:
    """After a clean stop: every offset committed (so every flush landed), one row per page, a tag
    exactly where a row has data, no error event. The run logs are shown when one fails."""
    lag = work_lag(env)
    assert lag == 0, f"work items left uncommitted at a clean stop: {lag}\n{env.run_logs()}"
    rows = env.rows()
    assert {(page, rev) for rev, (page, _) in rows.items()} == pages, f"one row per page\n{env.run_logs()}"
    tagged = env.tagged_pages()
    with_data = {page for _, (page, data) in rows.items() if data is not None}
    assert tagged == with_data, (f"a tag exactly where data is: untagged {sorted(with_data - tagged)}, "
                                 f"tag without data {sorted(tagged - with_data)}\n{env.run_logs()}")
    assert env.error_events() == []


def test_a_worker_killed_with_sigkill_loses_and_duplicates_nothing(env) -> None:
    debug = ("--log-level", "DEBUG")  # each flush's outcomes, shown if the check fails
    ingest = env.spawn(env.write_config(**{"metrics.port": free_port()}), "--role", "ingest", *debug)
    worker_config = env.write_config(**{"metrics.port": free_port()})
    worker = env.spawn(worker_config, "--role", "worker", *debug)
    try:
        pages = many_pages(env)
        wait_for(lambda: len(env.rows()) >= 10, 120, "the first rows", [ingest, worker])
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        written_before_kill = len(env.rows())
        assert written_before_kill < len(pages), "killed too late to prove anything; raise COPIES"

        worker = env.spawn(worker_config, "--role", "worker", *debug)
        # Rows alone are not the end: a redelivered item whose row the killed worker committed only
        # re-sets its tag, which adds no row; so wait until every work item is committed too.
        wait_for(lambda: len(env.rows()) >= len(pages) and work_lag(env) == 0, 180, "every page", [ingest, worker])
        assert stop(worker) == 0 and stop(ingest) == 0
    finally:
        for process in (worker, ingest):
            if process.poll() is None:
                process.kill()
    assert_every_page_done_once(env, pages)


def test_two_workers_share_the_work_topic(env) -> None:
    ports = [free_port(), free_port()]
    workers = [env.spawn(env.write_config(**{"metrics.port": port}), "--role", "worker") for port in ports]
    ingest = None
    try:
        wait_for(lambda: all(ready(port) for port in ports), 60, "both workers ready", workers)
        wait_for(lambda: group_members(env.services.kafka, env.settings.kafka.worker_group_id) == 2, 60, "a group of two", workers)
        ingest = env.spawn(env.write_config(**{"metrics.port": free_port()}), "--role", "ingest")
        pages = many_pages(env)
        wait_for(lambda: len(env.rows()) >= len(pages) and work_lag(env) == 0, 180, "every page", [*workers, ingest])
        done = [metric(port, "addlink_outcomes_total") for port in ports]
        assert all(count > 0 for count in done), f"each worker evaluated items: {done}"
        assert sum(done) >= len(pages)
        for process in (*workers, ingest):
            assert stop(process) == 0
    finally:
        for process in (*workers, ingest):
            if process is not None and process.poll() is None:
                process.kill()
    assert_every_page_done_once(env, pages)
