"""Fuzz the whole pipeline: N generated source messages through `addlink run --role all` on the local stack.

    bash stack/up.sh && source stack/env.sh
    .venv/bin/python tests/fuzz/run_fuzz.py --events 100000

A fresh isolated environment (tests/integration/pipeline_env.py: own topics, database, index,
Redis prefix, a real elwiki bundle) is created; the real product runs as a subprocess while this
process generates cases (tests/fuzz/page_change_cases.py) and publishes them raw. Hypothesis draws
about 10 ms per case on this machine, so --pool distinct cases are drawn and replayed until --events
messages are published (valid events with fresh page and revision ids on every later pass). Once ingest and
worker have committed everything, the error topic is read back and compared with the invalid
inputs byte for byte; then the process is stopped with SIGTERM and must exit 0. Prints the figures
and exits 1 on any mismatch, a crash or a stall (no committed progress for --stall seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

if __name__ == "__main__":  # run as a script: pytest's pythonpath (pyproject.toml) is not in effect
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from confluent_kafka import Producer  # noqa: E402

from fuzz_check import Expected, compare, generate  # noqa: E402
from page_change_cases import MAX_MEDIAWIKI_ID, Case  # noqa: E402
from pipeline_env import WIKI, Services, make_env, metric  # noqa: E402

THROUGHPUT = {"commit_interval_s": 1.0, "commit_max_items": 1_000}


def services_from_env() -> Services:
    missing = [v for v in ("ADDLINK_TEST_KAFKA", "ADDLINK_TEST_ELASTICSEARCH", "ADDLINK_TEST_MARIADB",
                           "ADDLINK_TEST_REDIS") if not os.environ.get(v)]
    if missing:
        sys.exit(f"run_fuzz: {', '.join(missing)} not set; run `bash stack/up.sh && source stack/env.sh` first")
    from urllib.parse import urlsplit

    db = urlsplit(os.environ["ADDLINK_TEST_MARIADB"])
    mariadb = {"host": db.hostname, "port": db.port or 3306, "user": db.username or "root",
               "password": db.password or "", "charset": "utf8mb4"}
    return Services(os.environ["ADDLINK_TEST_KAFKA"], os.environ["ADDLINK_TEST_ELASTICSEARCH"], mariadb,
                    os.environ["ADDLINK_TEST_REDIS"])


def _renewed(case: Case, round_number: int, rng: random.Random) -> Case:
    """The pool's case for pass ``round_number``: a valid event gets fresh page and revision ids after
    the first pass (a new page, not a duplicate); an invalid one is repeated byte for byte."""
    if round_number == 0 or case.invalid:
        return case
    event = json.loads(case.value)
    event["page"]["page_id"] = rng.randint(1, MAX_MEDIAWIKI_ID)
    event["revision"]["rev_id"] = rng.randint(1, MAX_MEDIAWIKI_ID)
    key = json.dumps({"wiki_id": event["wiki_id"], "page_id": event["page"]["page_id"]}, separators=(",", ":"),
                     ensure_ascii=False).encode()
    return Case(json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode(), key, False, case.kind)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="generated source messages (default 100000)")
    parser.add_argument("--seed", type=int, default=1, help="first Hypothesis seed (one per chunk)")
    parser.add_argument("--pool", type=int, default=10_000,
                        help="distinct Hypothesis draws, replayed until --events (default 10000)")
    parser.add_argument("--chunk", type=int, default=5_000, help="cases per Hypothesis run (default 5000)")
    parser.add_argument("--stall", type=float, default=300.0, help="fail after this long without progress (s)")
    args = parser.parse_args()

    env = make_env(Path(tempfile.mkdtemp(prefix="addlink-fuzz-")), services_from_env())
    port = env.settings.metrics.port
    config = env.write_config(**{f"pipeline.{k}": v for k, v in THROUGHPUT.items()})
    process = env.spawn(config, "--role", "all")
    try:
        return _run(args, env, process, port)
    finally:
        if process.poll() is None:
            process.kill()
        env.close()


def _run(args: argparse.Namespace, env, process, port: int) -> int:
    kafka = env.settings.kafka
    expected = Expected()
    producer = Producer({"bootstrap.servers": env.services.kafka, "message.max.bytes": 20 * 1024 * 1024,
                         "linger.ms": 50, "queue.buffering.max.kbytes": 512 * 1024})

    def publish(case: Case) -> None:
        expected.add(case)
        while True:
            try:
                producer.produce(kafka.source_topics[0], value=case.raw, key=case.key)
                break
            except BufferError:
                producer.poll(0.5)
        producer.poll(0)

    def alive() -> None:
        if process.poll() is not None:
            raise SystemExit(f"run_fuzz: addlink run exited with {process.returncode} while fed (see {env.directory})")
        print(f"  published {expected.events:,} (invalid {expected.invalid_count:,})", flush=True)

    started = time.monotonic()
    pool: list[Case] = []
    generate(min(args.pool, args.events), pool.append, enabled_wiki=WIKI, first_seed=args.seed, chunk=args.chunk,
             past_only=True, between_chunks=alive)
    rng = random.Random(args.seed)
    for number in range(args.events):
        publish(_renewed(pool[number % len(pool)], number // len(pool), rng))
        if number % 10_000 == 9_999:
            alive()
    assert producer.flush(120) == 0, "could not publish every case"
    published_s = time.monotonic() - started

    lag, last_progress, last_lag = 1, time.monotonic(), None
    while lag:
        alive_process = process.poll() is None
        if not alive_process:
            print(f"run_fuzz: addlink run exited with {process.returncode} (log in {env.directory})")
            return 1
        lag = (env.committed_lag(kafka.source_topics[0], kafka.ingest_group_id)
               + env.committed_lag(kafka.work_topic, kafka.worker_group_id))
        if lag != last_lag:
            last_lag, last_progress = lag, time.monotonic()
        elif time.monotonic() - last_progress > args.stall:
            print(f"run_fuzz: STALLED with {lag} messages uncommitted for {args.stall}s (log in {env.directory})")
            return 1
        time.sleep(2)
    caught_up_s = time.monotonic() - started

    figures = {name: metric(port, name) for name in (
        "addlink_source_events_total", "addlink_work_items_total", "addlink_outcomes_total",
        "addlink_work_items_skipped_total", "addlink_error_events_total")}
    dropped = {reason: metric(port, "addlink_source_events_dropped_total", {"reason": reason})
               for reason in ("canary", "wiki_not_enabled", "not_content_namespace", "stale")}
    process.send_signal(signal.SIGTERM)
    exit_code = process.wait(timeout=120)
    verdict = compare(expected, (json.loads(v) for v in env.topic_messages(kafka.error_topic, timeout=600)))

    summary = {
        "events": expected.events, "distinct_cases": len(pool), "kinds": dict(expected.kinds), "invalid": expected.invalid_count,
        "error_events_received": verdict.received, "error_events_truncated": verdict.truncated,
        "invalid_missing": verdict.missing, "valid_sent_to_error_topic": len(verdict.valid_reported),
        "unmatched_error_events": len(verdict.foreign),
        "source_events_read": int(figures["addlink_source_events_total"]), "dropped": dropped,
        "valid_forwarded": int(figures["addlink_work_items_total"]),
        "worker_outcomes": int(figures["addlink_outcomes_total"]),
        "worker_skipped": int(figures["addlink_work_items_skipped_total"]),
        "crashes": 0 if exit_code == 0 else 1, "exit_code": exit_code,
        "publish_s": round(published_s, 1), "total_s": round(caught_up_s, 1),
        "events_per_s": round(expected.events / caught_up_s, 1),
    }
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    for event in (verdict.valid_reported + verdict.foreign)[:5]:
        print("unexpected error event:", event["error_type"], event["message"][:300])
    return 0 if verdict.ok and exit_code == 0 and verdict.received == expected.invalid_count else 1


if __name__ == "__main__":
    sys.exit(main())
