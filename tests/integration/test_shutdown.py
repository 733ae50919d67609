"""`addlink run` shutdown against the real services: SIGTERM with work in flight drains, commits
what is done and exits 0 within `pipeline.shutdown_timeout_s`; a second signal exits at once.
Real model, real articles (tests/data/dumps/el-sample.xml.bz2, see its ATTRIBUTION.md)."""

from __future__ import annotations

import json
import secrets
import signal
import time

import pytest
from confluent_kafka import Consumer, TopicPartition

from pipeline_env import PipelineEnv, free_port, make, sample_articles, services  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration

COPIES = 40  # 200 pages: more than one poll batch (100), so the drain, which ends the batch in hand, leaves work
SHUTDOWN_TIMEOUT_S = 10.0


def publish_pages(env: PipelineEnv, copies: int = COPIES) -> set[int]:
    events = [env.event(page, page_id=page_id, rev_id=page_id)
              for copy in range(copies) for page in sample_articles()
              for page_id in [200_000 + copy * 10_000 + page.page_id]]
    env.publish(events)
    return {event["page"]["page_id"] for event in events}


def wait_for(condition, timeout: float, what: str, process) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"addlink run exited with {process.returncode} while waiting for {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def committed_messages(env: PipelineEnv, topic: str, group: str) -> list[bytes]:
    """Every message of ``topic`` below ``group``'s committed offsets (what the group declared done)."""
    consumer = Consumer({"bootstrap.servers": env.services.kafka, "group.id": f"reader-{secrets.token_hex(4)}",
                         "enable.auto.commit": False})
    committer = Consumer({"bootstrap.servers": env.services.kafka, "group.id": group, "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        committed = {tp.partition: tp.offset for tp in
                     committer.committed([TopicPartition(topic, p) for p in partitions], timeout=10)}
        wanted = {p: offset for p, offset in committed.items() if offset > 0}
        consumer.assign([TopicPartition(topic, p, 0) for p in wanted])
        values: list[bytes] = []
        deadline = time.monotonic() + 20
        while wanted and time.monotonic() < deadline:
            for message in consumer.consume(500, 0.5):
                if message.error() is None and message.offset() < wanted.get(message.partition(), 0):
                    values.append(message.value())
                    if message.offset() + 1 >= wanted[message.partition()]:
                        del wanted[message.partition()]
        assert not wanted, "could not read the committed messages"
        return values
    finally:
        consumer.close()
        committer.close()


def test_sigterm_with_work_in_flight_drains_commits_and_exits_0_in_time(make) -> None:
    env = make()
    config = env.write_config(**{"metrics.port": free_port(), "pipeline.shutdown_timeout_s": SHUTDOWN_TIMEOUT_S})
    process = env.spawn(config)
    try:
        pages = publish_pages(env)
        wait_for(lambda: len(env.rows()) >= 5, 120, "the first rows", process)
        process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        status = process.wait(timeout=SHUTDOWN_TIMEOUT_S + 5)
        elapsed = time.monotonic() - signalled
    finally:
        if process.poll() is None:
            process.kill()
    assert status == 0
    assert elapsed < SHUTDOWN_TIMEOUT_S, f"exited {elapsed:.1f}s after SIGTERM"
    rows = env.rows()
    assert len(rows) < len(pages), "the signal came after all the work: nothing was in flight"

    # Committed means durable: every work item the worker group committed has its row (and its
    # tag), and every source event the ingest group committed is on the work topic.
    kafka = env.settings.kafka
    done = [json.loads(value) for value in committed_messages(env, kafka.work_topic, kafka.worker_group_id)]
    assert done, "the drain committed the work it finished"
    stored_pages = {page for page, data in rows.values() if data is not None}
    assert {item["page_id"] for item in done} <= stored_pages
    assert stored_pages <= env.tagged_pages()
    ingested = {json.loads(value)["page"]["page_id"]
                for value in committed_messages(env, env.source_topic, kafka.ingest_group_id)}
    assert ingested and ingested <= {json.loads(value)["page_id"] for value in env.topic_messages(kafka.work_topic)}
    log = run_log(env)
    assert "addlink run stopped" in log and "shutdown took too long" not in log


@pytest.mark.parametrize("second", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_second_signal_exits_at_once(make, second) -> None:
    env = make()
    process = env.spawn(env.write_config(**{"metrics.port": free_port(), "pipeline.shutdown_timeout_s": 60.0}))
    try:
        publish_pages(env, copies=2)
        wait_for(lambda: len(env.rows()) >= 1, 120, "the first row", process)
        process.send_signal(signal.SIGTERM)
        # The second signal only counts once the first was handled (a pending signal sent twice is
        # delivered once); the drain takes about 2 s here, far longer than this wait.
        wait_for(lambda: "stop requested" in run_log(env), 10, "the first signal handled", process)
        process.send_signal(second)
        signalled = time.monotonic()
        status = process.wait(timeout=10)
        elapsed = time.monotonic() - signalled
    finally:
        if process.poll() is None:
            process.kill()
    assert status == 128 + second, "exited through the immediate path, not the drain"
    assert elapsed < 1.0, f"exited {elapsed:.1f}s after the second signal"


def run_log(env: PipelineEnv) -> str:
    """The JSON log lines of the test's only `addlink run` process."""
    return next(env.directory.glob("run-*.log")).read_text()
