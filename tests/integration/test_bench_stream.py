"""`addlink bench stream` against the real services: the figures it prints hold together."""

from __future__ import annotations

import pytest

from pipeline_env import DUMPS, WIKI, make, services  # noqa: F401 - fixtures
from stream.bench.pipeline import bench_stream

pytestmark = pytest.mark.integration


def test_the_benchmark_measures_every_event_with_two_workers(make) -> None:
    env = make()
    figures = bench_stream(env.settings, wiki_id=WIKI, dump=DUMPS / "el-sample.xml.bz2", events=30,
                           latency_seconds=2.0, latency_rate=5.0, workers=2, progress=False)
    assert figures["events"] == 30 and figures["events_per_second"] > 0 and figures["workers"] == 2
    assert figures["latency_items"] == 10  # 5 events/s for 2 s, each acknowledged
    assert 0 < figures["latency_p50_seconds"] <= figures["latency_p99_seconds"]
    cpu = figures["cpu_ms_per_event"]
    assert cpu["pipeline_process"] > 0 and cpu["scoring_process"] > 0
    assert cpu["machine"] == pytest.approx(cpu["pipeline_process"] + cpu["scoring_process"] + cpu["rest_of_machine"],
                                           abs=0.05)
    resident = figures["resident_mb_latency_run"]
    for moment in ("start", "end"):
        assert resident[moment]["pipeline_process"] > 50
        assert resident[moment]["scoring_process"] > 100, "two scoring processes"
    assert sum(figures["outcomes"].values()) >= 30
    assert set(figures["stage_shares"]) == {"ingest", "worker"}
