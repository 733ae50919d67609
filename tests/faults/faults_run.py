"""One fault-injection run: own stack, workload, `addlink run` processes, faults on a schedule
while the events flow, catch-up, then the invariant check (faults_check.py).

Recovery of a fault is measured from its repair (process restarted, service healthy again):
``resumed`` = until the committed offsets of the source or work topic move again (0 when nothing
was pending), ``recovered`` = until both consumer groups have committed, on every partition, the
end offsets the topics had at the repair (the backlog of the fault is processed).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql
from elasticsearch import Elasticsearch

from faults_check import Report, Stores, check, deadline_pages, expected_rows, install_write_audit
from faults_pipeline import Fleet, Offsets, Publisher, make_settings
from faults_stack import REPO, FaultStack
from faults_workload import LANGUAGE, WIKI, Workload, build_workload
from pipeline_env import delinked, free_port  # tests/integration (on sys.path, see inject.py)
from scoring.bundle import BundleError, load_bundle
from scoring.dumps import is_article, iter_pages
from scoring.train import train
from stream.pipeline.bootstrap import build_store, create_missing_indices, ensure_pipeline_topics
from stream.transport.kafka_io import ensure_topics

DUMP = REPO / "stack" / "samples" / "ltgwiki-20170901-pages-articles.xml.bz2"
FAST = {"commit_interval_s": 0.2, "commit_max_items": 50, "session_timeout_ms": 6_000, "lag_interval_s": 1.0,
        "backoff_max_s": 2.0, "shutdown_timeout_s": 20.0, "rejoin_after_s": 20.0}  # as tests/integration/pipeline_env.py FAST
RECOVERY_TIMEOUT_S = 240.0
ALL_FAULTS = ("kill worker-1", "kill ingest", "stop elasticsearch", "kill worker-2", "stop mariadb",
              "restart kafka", "kill worker-1", "restart redis (data wiped)", "kill ingest", "kill worker-2")


@dataclass(frozen=True)
class Profile:
    events: int
    rate: float                 # events published per second while a chunk is being published
    sink_downtime_s: float      # Elasticsearch / MariaDB stopped this long (plus their start time)
    kill_delay_s: float = 3.0   # a killed process is restarted after this
    gap_s: float = 3.0          # between a fault's recovery and the next fault
    cycles: int = 2             # times through the fault list
    faults: tuple[str, ...] = ALL_FAULTS

    @property
    def chunk(self) -> int:
        """Events released before the first fault and at the start of each fault."""
        return -(-self.events // (self.cycles * len(self.faults) + 1))


FULL = Profile(events=5000, rate=40.0, sink_downtime_s=25.0)
SHORT = Profile(events=600, rate=40.0, sink_downtime_s=6.0, kill_delay_s=2.0, gap_s=1.0, cycles=1,
                faults=("kill worker-1", "kill ingest", "stop elasticsearch", "stop mariadb", "restart kafka",
                        "restart redis (data wiped)"))


@dataclass
class FaultRecord:
    name: str
    at_s: float
    downtime_s: float = 0.0
    resumed_s: float | None = None
    recovered_s: float | None = None
    backpressure: float = 0.0   # highest addlink_backpressure seen on any process during the fault


@dataclass
class Result:
    report: Report
    faults: list[FaultRecord]
    figures: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)   # besides invariant violations: exits, timeouts

    @property
    def ok(self) -> bool:
        return not self.report.violations and not self.problems


def models_dir(stack: FaultStack) -> Path:
    """The ltgwiki bundle, trained from the sample dump once per scoring version and cached in the
    fault directory (retrained when the cached one no longer loads, e.g. after a feature change)."""
    directory = stack.directory / "models"
    try:
        load_bundle(directory, WIKI)
    except (BundleError, OSError):
        train(DUMP, directory, wiki=WIKI, language=LANGUAGE, progress=False)  # passes the release gate
    return directory


class Harness:
    """Runs the pipeline on the fault stack and injects the faults of a profile."""

    def __init__(self, stack: FaultStack, profile: Profile, log: Callable[[str], None] = print) -> None:
        self.stack, self.profile, self.log = stack, profile, log
        self.run_id = secrets.token_hex(3)
        self.directory = stack.directory / f"run-{self.run_id}"
        self.directory.mkdir(parents=True)
        self.settings = make_settings(stack, self.run_id, models_dir(stack), FAST)
        kafka = self.settings.kafka
        self.fleet = Fleet(self.settings, self.directory, workers=2, ports=[free_port() for _ in range(3)])
        self.source = Offsets(stack.kafka, kafka.ingest_group_id, kafka.source_topics[0])
        self.work = Offsets(stack.kafka, kafka.worker_group_id, kafka.work_topic)
        self._lock = threading.Lock()
        self._current: FaultRecord | None = None
        self._stop_monitor = threading.Event()

    # ------------------------------------------------------------------ setup

    def prepare(self, workload: Workload) -> None:
        kafka = self.settings.kafka
        ensure_topics(kafka, {kafka.source_topics[0]: 1})
        ensure_pipeline_topics(self.settings)
        create_missing_indices(self.settings)
        store = build_store(self.settings)
        store.ensure_schema(WIKI)
        store.close()
        with pymysql.connect(**self.stack.mariadb, autocommit=True) as connection:
            install_write_audit(connection, self.settings.database_for(WIKI))
        self.workload = workload

    # ------------------------------------------------------------------ faults

    def inject(self, name: str) -> None:
        verb, _, target = name.partition(" ")
        if verb == "kill":
            process = self.fleet.processes[target]
            with self._lock:
                process.kill9()
            time.sleep(self.profile.kill_delay_s)
            with self._lock:
                process.start()
        elif verb == "stop":
            self.stack.down(target)
            time.sleep(self.profile.sink_downtime_s)
            self.stack.up(target)
        elif name == "restart kafka":
            self.stack.down("kafka")
            self.stack.up("kafka")
        elif name.startswith("restart redis"):
            self.stack.restart_redis_empty()
        else:
            raise ValueError(f"unknown fault {name!r}")

    def run_fault(self, name: str, started: float) -> FaultRecord:
        record = FaultRecord(name, at_s=round(time.monotonic() - started, 1))
        self._current = record
        t0 = time.monotonic()
        self.publisher.release(self.profile.chunk)
        self.inject(name)
        repaired = time.monotonic()
        record.downtime_s = round(repaired - t0, 1)
        at_repair = self._offsets(wait=True)
        done_at_repair = sum(sum(c.values()) for c, _ in at_repair)
        pending = any(c[p] < e[p] for c, e in at_repair for p in e)
        record.resumed_s = None if pending else 0.0
        while time.monotonic() - repaired < RECOVERY_TIMEOUT_S:
            now = self._offsets(wait=False)
            if now is not None:
                if record.resumed_s is None and sum(sum(c.values()) for c, _ in now) > done_at_repair:
                    record.resumed_s = round(time.monotonic() - repaired, 1)
                if all(c.get(p, 0) >= end for (c, _), (_, e) in zip(now, at_repair, strict=True)
                       for p, end in e.items()):
                    record.recovered_s = round(time.monotonic() - repaired, 1)
                    break
            time.sleep(0.5)
        self._current = None
        return record

    def _offsets(self, *, wait: bool, timeout_s: float = 120.0) -> list[tuple[dict[int, int], dict[int, int]]] | None:
        deadline = time.monotonic() + timeout_s
        while True:
            reads = [self.source.read(), self.work.read()]
            if all(r is not None for r in reads):
                return reads  # type: ignore[return-value]
            if not wait:
                return None
            if time.monotonic() > deadline:
                raise RuntimeError(f"cannot read consumer offsets for {timeout_s:.0f}s: "
                                   f"{self.source.last_error or self.work.last_error}")
            time.sleep(0.5)

    def _monitor(self) -> None:
        while not self._stop_monitor.wait(1.0):
            with self._lock:
                pressure = self.fleet.scrape()
            record = self._current
            if record is not None and pressure:
                record.backpressure = max(record.backpressure, *pressure.values())

    # ------------------------------------------------------------------ the run

    def run(self) -> Result:
        profile = self.profile
        publisher = self.publisher = Publisher(self.stack.kafka, self.settings.kafka.source_topics[0],
                                               self.workload.events, profile.rate)
        monitor = threading.Thread(target=self._monitor, name="faults-monitor", daemon=True)
        self.fleet.start()
        monitor.start()
        started = time.monotonic()
        publisher.start()
        publisher.release(profile.chunk)
        faults: list[FaultRecord] = []
        problems: list[str] = []
        try:
            time.sleep(profile.chunk / profile.rate)  # the pipeline gets going before the first fault
            for index in range(profile.cycles * len(profile.faults)):
                record = self.run_fault(profile.faults[index % len(profile.faults)], started)
                faults.append(record)
                self.log(f"  {record.at_s:7.1f}s {record.name:28} down {record.downtime_s:5.1f}s  resumed "
                         f"{record.resumed_s}s  recovered {record.recovered_s}s  backpressure {record.backpressure:g}")
                if record.recovered_s is None:
                    problems.append(f"{record.name}: backlog not processed within {RECOVERY_TIMEOUT_S:.0f}s")
                time.sleep(profile.gap_s)
            publisher.release(len(self.workload.events))
            publisher.join()
            caught_up_s = self.wait_caught_up(started)
        finally:
            self._stop_monitor.set()
            monitor.join()
            exits = self.fleet.stop()
        problems += [f"unexpected exit: {exit}" for exit in self.fleet.unexpected_exits]
        problems += [f"{name} exited with {code} on SIGTERM" for name, code in exits.items() if code not in (0, None)]
        if publisher.failed or publisher.sent != len(self.workload.events):
            problems.append(f"published {publisher.sent}/{len(self.workload.events)}: {publisher.failed[:3]}")
        result = Result(self.verify(), faults, problems=problems)
        result.figures = self.figures(caught_up_s, time.monotonic() - started)
        return result

    def wait_caught_up(self, started: float, quiet_s: float = 5.0, timeout_s: float = 600.0) -> float:
        """Seconds from the start until both groups committed everything, unchanged for ``quiet_s``."""
        deadline = time.monotonic() + timeout_s
        stable_since, last = None, None
        while time.monotonic() < deadline:
            reads = self._offsets(wait=True)
            snapshot = [(tuple(sorted(c.items())), tuple(sorted(e.items()))) for c, e in reads]
            done = all(c == e for c, e in reads) and sum(reads[0][1].values()) >= len(self.workload.events)
            if done and snapshot == last:
                if time.monotonic() - stable_since >= quiet_s:
                    return round(stable_since - started, 1)
            else:
                stable_since, last = (time.monotonic(), snapshot) if done else (None, None)
            time.sleep(0.5)
        raise RuntimeError(f"the pipeline did not catch up within {timeout_s:.0f}s")

    def verify(self) -> Report:
        expected = expected_rows(self.settings, self.workload)
        es = Elasticsearch(self.stack.elasticsearch, request_timeout=30)
        with pymysql.connect(**self.stack.mariadb) as connection:
            self.stores = Stores.read(connection, self.settings.database_for(WIKI), es, self.settings.index_for(WIKI))
        es.close()
        late = deadline_pages(process.log for process in self.fleet.processes.values())
        report = check(self.workload, expected, self.stores, late)
        errors = self._error_events()
        if errors:
            report.add("error_events_for_valid_input", f"{errors} events on {self.settings.kafka.error_topic}")
        return report

    def _error_events(self) -> int:
        errors = Offsets(self.stack.kafka, f"faults-{self.run_id}-reader", self.settings.kafka.error_topic)
        try:
            read = errors.read()
            assert read is not None
            return sum(read[1].values())
        finally:
            errors.close()

    def figures(self, caught_up_s: float, total_s: float) -> dict[str, Any]:
        source, work = self._offsets(wait=True)
        counters = self.fleet.counters()
        ingest, worker = counters.get("ingest", {}), counters.get("worker", {})
        return {
            "events published": len(self.workload.events),
            "events by kind": self.workload.kinds(),
            "events processed (committed by ingest)": sum(source[0].values()),
            "work items produced": sum(work[1].values()),
            "work items processed (committed by workers)": sum(work[0].values()),
            "source events handled incl. redeliveries (metrics)": int(ingest.get("addlink_source_events_total", 0)),
            "work items handled incl. redeliveries (metrics)": int(worker.get("addlink_outcomes_total", 0)
                                                                  + worker.get("addlink_work_items_skipped_total", 0)),
            "sink flush failures (metrics)": int(ingest.get("addlink_sink_flush_failures_total", 0)
                                                 + worker.get("addlink_sink_flush_failures_total", 0)),
            "row writes": self.stores.writes,
            "revisions written": self.stores.revisions_written,
            "duplicates written": self.stores.duplicate_writes,
            "caught up after (s)": caught_up_s,
            "run time (s)": round(total_s, 1),
        }

    def cleanup(self) -> None:
        self.source.close()
        self.work.close()


def load_workload(events: int) -> Workload:
    pages = [page for page in iter_pages(DUMP) if is_article(page)]
    return build_workload(pages, events, delink=delinked)
