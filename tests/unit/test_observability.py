"""Sensors, /healthz and /metrics over real HTTP, JSON logs."""

from __future__ import annotations

import io
import json
import logging
import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from pipeline_fakes import FakeClock
from stream.observe.health import Health, HealthServer
from stream.observe.logs import JsonFormatter
from stream.observe.metrics import OutcomeTally, PrometheusSensor, Sensor, SensorSet


def test_sensor_set_forwards_every_hook_to_every_sensor() -> None:
    first, second = OutcomeTally(), OutcomeTally()
    sensors = SensorSet([first, second])
    sensors.on_outcome("elwiki", "success")
    sensors.on_item_skipped("elwiki", "superseded")
    assert first.summary()["outcomes"] == second.summary()["outcomes"] == {"success": 1}
    hooks = [name for name in vars(Sensor) if name.startswith("on_")]
    assert all(getattr(SensorSet, name) is not getattr(Sensor, name) for name in hooks)


def test_prometheus_sensor_names_outcomes_like_growthexperiments() -> None:
    registry = CollectorRegistry()
    sensor = PrometheusSensor(registry)
    sensor.on_outcome("elwiki", "excluded_template")
    sensor.on_outcome("elwiki", "excluded_template")
    sensor.on_lag("worker", "addlink.work.v1", 3, 42)
    assert registry.get_sample_value(
        "addlink_outcomes_total", {"wiki": "elwiki", "outcome": "excluded_template"}) == 2
    assert registry.get_sample_value(
        "addlink_consumer_lag", {"role": "worker", "topic": "addlink.work.v1", "partition": "3"}) == 42


def test_a_cause_is_counted_beside_its_outcome() -> None:
    registry = CollectorRegistry()
    tally = OutcomeTally()
    sensors = SensorSet([PrometheusSensor(registry), tally])
    sensors.on_outcome("ltgwiki", "all_recommendations_pruned", "no_link_above_threshold")
    sensors.on_outcome("ltgwiki", "excluded_template")
    assert registry.get_sample_value("addlink_outcomes_total", {"wiki": "ltgwiki", "outcome": "all_recommendations_pruned"}) == 1
    assert registry.get_sample_value("addlink_outcome_causes_total", {
        "wiki": "ltgwiki", "outcome": "all_recommendations_pruned", "cause": "no_link_above_threshold"}) == 1
    assert tally.summary()["causes"] == {"all_recommendations_pruned:no_link_above_threshold": 1}


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture()
def served():
    clock = FakeClock()
    registry = CollectorRegistry()
    health = Health(clock, stall_seconds=60)
    server = HealthServer("127.0.0.1", 0, health, registry).start()
    yield clock, registry, health, f"http://127.0.0.1:{server.port}"
    server.stop()


def test_healthz_follows_the_loops_phases(served) -> None:
    clock, _, health, base = served
    status, body = get(base + "/healthz/live")
    assert status == 503, "no loop registered yet"

    health.register("ingest")
    health.register("worker")
    assert get(base + "/healthz/live")[0] == 200
    assert get(base + "/healthz/ready")[0] == 503, "starting is not ready"

    health.beat("ingest", phase="running")
    health.beat("worker", phase="running")
    status, body = get(base + "/healthz")
    assert status == 200
    assert json.loads(body)["loops"]["worker"]["phase"] == "running"

    health.beat("worker", backpressure=True, detail="mariadb down")
    assert get(base + "/healthz/ready")[0] == 503
    assert get(base + "/healthz/live")[0] == 200, "waiting for a sink is alive"

    health.beat("worker", backpressure=False)
    clock.advance(61)
    health.beat("ingest")
    status, body = get(base + "/healthz/live")
    assert status == 503, "the worker loop stalled"
    assert json.loads(body)["loops"]["worker"]["seconds_since_heartbeat"] == 61


def test_metrics_endpoint_serves_the_registry(served) -> None:
    _, registry, _, base = served
    PrometheusSensor(registry).on_outcome("ukwiki", "success")
    status, body = get(base + "/metrics")
    assert status == 200
    assert b'addlink_outcomes_total{outcome="success",wiki="ukwiki"} 1.0' in body
    assert get(base + "/nothing")[0] == 404


def test_json_logs_carry_extra_fields_and_mask_secrets() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("stream.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("flushed", extra={"sink": "mariadb", "rows": 3, "password": SecretStr("hunter2")})
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["msg"] == "flushed" and first["sink"] == "mariadb" and first["rows"] == 3
    assert first["level"] == "info" and first["logger"] == "stream.test"
    assert "hunter2" not in out.getvalue()
    assert second["exc"]["type"] == "RuntimeError" and "Traceback" in second["exc"]["stack"]
