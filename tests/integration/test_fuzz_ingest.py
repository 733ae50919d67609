"""Fuzzed input through the real ingest stage on the local stack (the CI-sized run of tests/fuzz).

A few thousand generated messages (tests/fuzz/page_change_cases.py: schema-derived events, and
malformed, mistyped, incomplete, huge, non-UTF-8 ones) are published raw to the source topic; the
real ingest stage must read them all without stopping, report exactly the invalid ones to the error
topic with their raw bytes, and exit cleanly. ``python tests/fuzz/run_fuzz.py`` is the 100,000-event
version through ingest and worker.
"""

from __future__ import annotations

import time

from confluent_kafka import Producer

from fuzz_check import Expected, compare, generate
from page_change_cases import Case
from pipeline_env import WIKI, make, services  # noqa: F401 - fixtures

EVENTS = 1_000


def test_fuzzed_source_events_invalid_ones_reach_the_error_topic_raw_and_ingest_goes_on(make) -> None:
    env = make()
    expected = Expected()
    producer = Producer({"bootstrap.servers": env.services.kafka, "message.max.bytes": 20 * 1024 * 1024,
                         "linger.ms": 20})

    def publish(case: Case) -> None:
        expected.add(case)
        producer.produce(env.source_topic, value=case.raw, key=case.key)
        producer.poll(0)

    generate(EVENTS, publish, enabled_wiki=WIKI, first_seed=20_260_501, chunk=EVENTS)
    assert producer.flush(60) == 0
    assert expected.invalid_count > 100 and len(expected.valid) > 500, expected.kinds

    started = time.monotonic()
    tally = env.run(lambda t: _handled(t.summary()) >= expected.events, role="ingest", timeout=90)
    elapsed = time.monotonic() - started

    verdict = compare(expected, env.error_events())
    assert verdict.ok, (f"missing {verdict.missing}; valid reported {[e['message'] for e in verdict.valid_reported[:3]]}; "
                        f"foreign {[e['message'] for e in verdict.foreign[:3]]}")
    assert verdict.received == expected.invalid_count
    assert tally.summary()["errors"] == {"ingest:InvalidEvent": expected.invalid_count}
    assert env.committed_lag(env.source_topic, env.settings.kafka.ingest_group_id) == 0
    print(f"fuzz ingest: {expected.events} events ({dict(expected.kinds)}), {expected.invalid_count} invalid, "
          f"{verdict.received} error events ({verdict.truncated} truncated), {elapsed:.1f}s")


def _handled(summary: dict[str, dict[str, int]]) -> int:
    """Source messages the ingest stage finished: read as events, or reported as errors."""
    return sum(summary["events_in"].values()) + sum(summary["errors"].values())
