"""The pipeline under test, as real `addlink run` processes on the fault stack, and what the
harness watches from outside: consumer-group offsets, each process's /metrics, the publisher.

Every process has its own config file (its own metrics port) and log file; a process killed by
the harness is restarted on the same config. Counters of killed processes are kept as last seen.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import Consumer, Producer, TopicPartition

from faults_stack import REPO, FaultStack
from faults_workload import LANGUAGE, WIKI
from sinks.base import json_bytes
from stream.config import Settings
from stream.core.events import encode_key

COUNTERS = ("addlink_source_events_total", "addlink_work_items_total", "addlink_outcomes_total",
            "addlink_work_items_skipped_total", "addlink_source_events_dropped_total", "addlink_error_events_total",
            "addlink_sink_flush_failures_total")


def make_settings(stack: FaultStack, run_id: str, models_dir: Path, pipeline: dict[str, Any]) -> Settings:
    """Settings of one run: topics, groups, Redis prefix, database and index named after ``run_id``."""
    name = f"addlink-faults-{run_id}"
    return Settings(
        kafka={"bootstrap_servers": stack.kafka, "client": "confluent", "source_topics": [f"{name}.src"],
               "work_topic": f"{name}.work", "work_partitions": 6, "error_topic": f"{name}.error",
               "weighted_tags_topic": f"{name}.tags", "ingest_group_id": f"{name}-ingest",
               "worker_group_id": f"{name}-worker"},
        redis={"url": stack.redis, "key_prefix": name},
        mariadb={"host": stack.host, "port": stack.ports.mariadb, "user": "root"},
        elasticsearch={"url": stack.elasticsearch, "index_pattern": name + "-{wiki_id}_content"},
        pipeline=pipeline,
        models_dir=models_dir,
        emitter_id=f"{name}.emitter",
        wikis={WIKI: {"language": LANGUAGE, "minimum_time_since_last_edit": 0,
                      "database": f"addlink_faults_{run_id}_{WIKI}"}},
    )


def metrics_text(port: int) -> str | None:
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    except OSError:
        return None


def metric_sums(text: str, names: tuple[str, ...]) -> dict[str, float]:
    """Each metric summed over its label sets."""
    sums = dict.fromkeys(names, 0.0)
    for line in text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in sums:
            sums[name] += float(line.rsplit(" ", 1)[1])
    return sums


@dataclass
class Process:
    """One `addlink run --role ROLE` with its own config and metrics port."""

    name: str
    role: str
    config: Path
    port: int
    log: Path
    popen: subprocess.Popen | None = None
    killed: bool = False
    incarnations: list[dict[str, float]] = field(default_factory=list)  # last counters seen, per start

    def start(self) -> None:
        out = self.log.open("ab")
        self.popen = subprocess.Popen([sys.executable, "-m", "stream.cli", "run", "--config", str(self.config),
                                       "--role", self.role], cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        self.killed = False
        self.incarnations.append(dict.fromkeys(COUNTERS, 0.0))

    def kill9(self) -> None:
        assert self.popen is not None
        self.killed = True
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=30)

    def stop(self, timeout: float = 40) -> int | None:
        if self.popen is None or self.popen.poll() is not None:
            return None if self.popen is None else self.popen.returncode
        self.killed = True
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait(timeout=10)

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def exited_by_itself(self) -> bool:
        return self.popen is not None and self.popen.poll() is not None and not self.killed


class Fleet:
    """The ingest and the workers; writes one config file per process."""

    def __init__(self, settings: Settings, directory: Path, workers: int, ports: list[int]) -> None:
        self.processes: dict[str, Process] = {}
        roles = ["ingest"] + ["worker"] * workers
        names = ["ingest"] + [f"worker-{i + 1}" for i in range(workers)]
        for name, role, port in zip(names, roles, ports, strict=True):
            data = settings.model_dump(mode="json", exclude_none=True)
            data["metrics"] = {"host": "127.0.0.1", "port": port}
            config = directory / f"{name}.yaml"
            config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
            self.processes[name] = Process(name, role, config, port, directory / f"{name}.log")
        self.unexpected_exits: list[str] = []
        self.max_backpressure: dict[str, float] = {}

    def start(self) -> None:
        for process in self.processes.values():
            process.start()

    def stop(self) -> dict[str, int | None]:
        return {name: process.stop() for name, process in self.processes.items()}

    def scrape(self) -> dict[str, float]:
        """Refresh each live process's counters; note unexpected exits (restarted at once) and the
        backpressure gauge. Returns the backpressure value of each process (0 if unreachable)."""
        pressure = {}
        for process in self.processes.values():
            if process.exited_by_itself():
                self.unexpected_exits.append(f"{process.name} exit {process.popen.returncode} at {time.time():.0f}")
                process.start()
                continue
            text = metrics_text(process.port) if process.running else None
            if text is None:
                continue
            process.incarnations[-1] = metric_sums(text, COUNTERS)
            pressure[process.name] = metric_sums(text, ("addlink_backpressure",))["addlink_backpressure"]
        return pressure

    def counters(self) -> dict[str, dict[str, float]]:
        """Per role, each counter summed over every incarnation (last value seen before each kill)."""
        totals: dict[str, dict[str, float]] = {}
        for process in self.processes.values():
            role = totals.setdefault(process.role, dict.fromkeys(COUNTERS, 0.0))
            for incarnation in process.incarnations:
                for name, value in incarnation.items():
                    role[name] += value
        return totals


class Offsets:
    """Committed offsets of a consumer group against the end of its topic (one idle consumer)."""

    def __init__(self, bootstrap: str, group: str, topic: str) -> None:
        self.topic = topic
        self.last_error = ""
        self._config = {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                        "log_level": 0}  # the broker restarts on purpose: no connect errors
        self._consumer = Consumer(self._config)

    def read(self, timeout: float = 5.0) -> tuple[dict[int, int], dict[int, int]] | None:
        """(committed, end) offsets per partition, or None while Kafka does not answer."""
        try:
            partitions = self._consumer.list_topics(self.topic, timeout=timeout).topics[self.topic].partitions
            committed, ends = {}, {}
            for tp in self._consumer.committed([TopicPartition(self.topic, p) for p in partitions], timeout=timeout):
                low, high = self._consumer.get_watermark_offsets(TopicPartition(self.topic, tp.partition),
                                                                 timeout=timeout)
                committed[tp.partition] = tp.offset if tp.offset >= 0 else low
                ends[tp.partition] = high
            return committed, ends
        except Exception as error:  # noqa: BLE001 - KafkaException while the broker restarts
            self.last_error = f"{type(error).__name__}: {error}"
            # A fresh client: after a broker restart librdkafka can keep waiting for a group coordinator
            # it never finds again (the pipeline's consumers rejoin for the same reason, see consume_loop).
            self._consumer.close()
            self._consumer = Consumer(self._config)
            return None

    def close(self) -> None:
        self._consumer.close()


class Publisher(threading.Thread):
    """Publishes the workload in chunks released by the fault schedule (at most ``rate`` events/s),
    so events flow while each fault is active; per-page order is kept (see the producer settings).
    ``sent`` counts acknowledged events."""

    def __init__(self, bootstrap: str, topic: str, events: list[dict[str, Any]], rate: float) -> None:
        super().__init__(name="faults-publisher", daemon=True)
        # Not idempotent: librdkafka's idempotent producer stalled for good after the broker restart (152 of
        # 600 events never delivered). One request in flight keeps per-page order; a retry after a lost
        # acknowledgement may duplicate an event, which the pipeline must take anyway.
        self._producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": False, "acks": "all",
                                   "max.in.flight.requests.per.connection": 1, "linger.ms": 20,
                                   "message.timeout.ms": 600_000, "log_level": 0})
        self._topic, self._events, self.rate = topic, events, rate
        self._released = 0
        self._more = threading.Condition()
        self.sent = 0
        self.failed: list[str] = []

    def release(self, count: int) -> None:
        """Allow ``count`` more events to be published (all remaining ones with a huge count)."""
        with self._more:
            self._released = min(len(self._events), self._released + count)
            self._more.notify()

    def _delivered(self, error: Any, _message: Any) -> None:
        if error is None:
            self.sent += 1
        else:
            self.failed.append(str(error))

    def run(self) -> None:
        for index, event in enumerate(self._events):
            with self._more:
                while index >= self._released:
                    self._more.wait(0.5)
                    self._producer.poll(0)
            self._producer.produce(self._topic, value=json_bytes(event),
                                   key=encode_key(event["wiki_id"], event["page"]["page_id"]),
                                   on_delivery=self._delivered)
            self._producer.poll(0)
            time.sleep(1 / self.rate)
        while self._producer.flush(5) > 0:
            pass
