"""Fixtures for integration tests: the real Kafka, Elasticsearch, MariaDB and Redis.

Where the services come from, per service:

1. ``ADDLINK_TEST_KAFKA`` (``host:port``), ``ADDLINK_TEST_ELASTICSEARCH`` (``http://host:port``),
   ``ADDLINK_TEST_MARIADB`` (``mysql://root@host:port``), ``ADDLINK_TEST_REDIS``
   (``redis://host:port/0``); ``bash stack/up.sh && source stack/env.sh`` sets all four.
2. Otherwise, when none of the four is set and a Docker engine answers, a container started with
   testcontainers from the image pinned in ``docker-compose.yaml`` (stopped after the session).
3. Otherwise the test FAILS, naming ``bash stack/up.sh``. Integration tests never skip: a
   suite that goes green without its services proves nothing (and CI=true changes nothing).

Each service is checked with a bounded retry before the first test uses it.

Session fixtures (connection info, as strings code under test can take):
    ``kafka_bootstrap``, ``elasticsearch_url``, ``mariadb_url``, ``redis_url``;
    ``mariadb_params`` (dict for ``pymysql.connect(**mariadb_params)``);
    clients ``es_client`` (elasticsearch.Elasticsearch) and ``redis_client`` (redis.Redis).

Per-test fixtures (fresh names, removed after the test):
    ``kafka_topic``       a new topic, 1 partition, visible in metadata before the test runs;
    ``make_kafka_topic``  factory ``make_kafka_topic(prefix="test", partitions=1) -> name``;
    ``es_index``          a fresh index *name* (not created; deleted after, if it exists);
    ``mariadb_database``  a new utf8mb4 database (dropped after);
    ``mariadb_connection`` an autocommit pymysql connection using ``mariadb_database``;
    ``redis_prefix``      a key prefix ``addlink-test-<hex>:``; its keys are deleted after.

Elasticsearch here is the integ-test distribution: no ``GET /`` (so no client ``info()`` or
``ping()``; use ``cluster.health()``), no painless scripts, no ``_update_by_query``, no
analysis-common analyzers. Index, get, search, bulk and partial ``doc`` updates work.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pymysql
import pytest
import redis
import yaml
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic
from elasticsearch import Elasticsearch
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

REPO = Path(__file__).resolve().parents[2]
ENV_VARS = {
    "kafka": "ADDLINK_TEST_KAFKA",
    "elasticsearch": "ADDLINK_TEST_ELASTICSEARCH",
    "mariadb": "ADDLINK_TEST_MARIADB",
    "redis": "ADDLINK_TEST_REDIS",
}
READY_TIMEOUT_S = 60.0   # per service, at session start
METADATA_TIMEOUT_S = 30.0  # a new topic must show up in metadata within this


def _retrying(seconds: float, *errors: type[BaseException]) -> Retrying:
    return Retrying(stop=stop_after_delay(seconds), wait=wait_exponential(multiplier=0.1, max=2),
                    retry=retry_if_exception_type(errors or (Exception,)), reraise=True)


def _unique(prefix: str, sep: str = "-") -> str:
    return f"{prefix}{sep}{uuid.uuid4().hex[:12]}"


# --- locating the services --------------------------------------------------------------


def _docker_reachable() -> bool:
    try:
        import docker  # installed with testcontainers

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


def _compose_image(service: str) -> str:
    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text(encoding="utf-8"))
    return compose["services"][service]["image"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _container(service: str) -> tuple[Any, Callable[[Any], str]]:
    """An unstarted container for `service` and a function giving its URL once started."""
    from testcontainers.core.container import DockerContainer

    image = _compose_image(service)
    if service == "kafka":
        # Clients must reach the advertised address, so the host port is chosen up front.
        port = _free_port()
        env = {"KAFKA_NODE_ID": "1", "KAFKA_PROCESS_ROLES": "broker,controller",
               "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
               "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
               "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
               "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://127.0.0.1:{port}",
               "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
               "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1", "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
               "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1", "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1"}
        return DockerContainer(image).with_envs(**env).with_bind_ports(9092, port), lambda c: f"127.0.0.1:{port}"
    if service == "elasticsearch":
        container = DockerContainer(image).with_exposed_ports(9200).with_envs(**{
            "discovery.type": "single-node", "xpack.security.enabled": "false",
            "cluster.routing.allocation.disk.threshold_enabled": "false", "ES_JAVA_OPTS": "-Xms512m -Xmx512m"})
        return container, lambda c: f"http://{c.get_container_host_ip()}:{c.get_exposed_port(9200)}"
    if service == "mariadb":
        container = (DockerContainer(image).with_exposed_ports(3306)
                     .with_env("MARIADB_ALLOW_EMPTY_ROOT_PASSWORD", "1")
                     .with_command("--character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci"))
        return container, lambda c: f"mysql://root@{c.get_container_host_ip()}:{c.get_exposed_port(3306)}"
    container = DockerContainer(image).with_exposed_ports(6379).with_command("redis-server --appendonly yes")
    return container, lambda c: f"redis://{c.get_container_host_ip()}:{c.get_exposed_port(6379)}/0"


@contextmanager
def _service(service: str, ready: Callable[[str], object]) -> Iterator[str]:
    """The URL of `service` (env var, else a testcontainer), checked by `ready` with retries."""
    var = ENV_VARS[service]
    url = os.environ.get(var)
    if url:
        _wait_ready(service, url, ready, hint=f"{var}={url}")
        yield url
        return
    if not any(os.environ.get(v) for v in ENV_VARS.values()) and _docker_reachable():
        container, url_of = _container(service)
        container.start()
        try:
            url = url_of(container)
            _wait_ready(service, url, ready, hint=f"testcontainers {_compose_image(service)}")
            yield url
        finally:
            container.stop()
        return
    pytest.fail(f"{service} is not available: {var} is not set and no Docker engine is reachable. "
                f"Start the local stack with `bash stack/up.sh`, then `source stack/env.sh` "
                f"(integration tests never skip{'; CI=true' if os.environ.get('CI') else ''}).",
                pytrace=False)


def _wait_ready(service: str, url: str, ready: Callable[[str], object], hint: str) -> None:
    error: Exception | None = None
    try:
        for attempt in _retrying(READY_TIMEOUT_S):
            with attempt:
                ready(url)
    except Exception as exc:
        error = exc
    if error is not None:  # failed outside the handler, so the report shows no chained traceback
        pytest.fail(f"{service} at {url} ({hint}) not ready after {READY_TIMEOUT_S:.0f} s: "
                    f"{type(error).__name__}: {error}. Is the stack up? `bash stack/status.sh` tells; "
                    f"`bash stack/up.sh` starts it.", pytrace=False)


def _mariadb_params(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    return {"host": parts.hostname or "127.0.0.1", "port": parts.port or 3306, "user": parts.username or "root",
            "password": parts.password or "", "charset": "utf8mb4", "connect_timeout": 5}


def _kafka_ready(bootstrap: str) -> None:
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=5)
    if not metadata.brokers:
        raise RuntimeError("no broker in metadata")


def _es_ready(url: str) -> None:
    with Elasticsearch(url, request_timeout=10) as es:
        status = es.cluster.health(wait_for_status="yellow", timeout="5s")["status"]
    if status not in ("green", "yellow"):
        raise RuntimeError(f"cluster health {status}")


def _mariadb_ready(url: str) -> None:
    with pymysql.connect(**_mariadb_params(url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1")


def _redis_ready(url: str) -> None:
    with redis.Redis.from_url(url, socket_timeout=5) as client:
        client.ping()


# --- session fixtures: connection info and clients --------------------------------------


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """``host:port`` of a Kafka broker (``bootstrap.servers``)."""
    with _service("kafka", _kafka_ready) as url:
        yield url


@pytest.fixture(scope="session")
def elasticsearch_url() -> Iterator[str]:
    """``http://host:port`` of an Elasticsearch 8 node, security off."""
    with _service("elasticsearch", _es_ready) as url:
        yield url


@pytest.fixture(scope="session")
def mariadb_url() -> Iterator[str]:
    """``mysql://root@host:port``: MariaDB, user root without a password."""
    with _service("mariadb", _mariadb_ready) as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """``redis://host:port/0``."""
    with _service("redis", _redis_ready) as url:
        yield url


@pytest.fixture(scope="session")
def mariadb_params(mariadb_url: str) -> dict[str, Any]:
    """Keyword arguments for ``pymysql.connect`` (no database selected, utf8mb4)."""
    return _mariadb_params(mariadb_url)


@pytest.fixture(scope="session")
def es_client(elasticsearch_url: str) -> Iterator[Elasticsearch]:
    with Elasticsearch(elasticsearch_url, request_timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url) as client:
        yield client


# --- per-test resources -----------------------------------------------------------------


@pytest.fixture
def make_kafka_topic(kafka_bootstrap: str) -> Iterator[Callable[..., str]]:
    """Factory: ``make_kafka_topic(prefix="test", partitions=1)`` creates a uuid-suffixed topic
    and returns once metadata shows every partition with a leader. All are deleted after."""
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    created: list[str] = []

    def make(prefix: str = "test", partitions: int = 1) -> str:
        name = _unique(f"addlink-{prefix}")
        admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[name].result(15)
        created.append(name)
        for attempt in _retrying(METADATA_TIMEOUT_S, AssertionError, KafkaException):
            with attempt:
                topic = admin.list_topics(topic=name, timeout=5).topics[name]
                assert topic.error is None and len(topic.partitions) == partitions
                assert all(p.leader >= 0 for p in topic.partitions.values())
        return name

    yield make
    if created:
        for future in admin.delete_topics(created, operation_timeout=15).values():
            future.result(30)


@pytest.fixture
def kafka_topic(make_kafka_topic: Callable[..., str]) -> str:
    """A fresh single-partition topic, deleted after the test."""
    return make_kafka_topic()


@pytest.fixture
def es_index(es_client: Elasticsearch) -> Iterator[str]:
    """A fresh, lower-case index name; the index is deleted after the test if it was created."""
    name = _unique("addlink-test")
    yield name
    es_client.indices.delete(index=name, ignore_unavailable=True)


@pytest.fixture
def mariadb_database(mariadb_params: dict[str, Any]) -> Iterator[str]:
    """A new empty database (utf8mb4), dropped after the test."""
    name = _unique("addlink_test", sep="_")
    with pymysql.connect(**mariadb_params, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    yield name
    with pymysql.connect(**mariadb_params, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def mariadb_connection(mariadb_params: dict[str, Any], mariadb_database: str) -> Iterator[pymysql.Connection]:
    """An autocommit connection whose current database is ``mariadb_database``."""
    conn = pymysql.connect(**mariadb_params, database=mariadb_database, autocommit=True)
    yield conn
    conn.close()


@pytest.fixture
def redis_prefix(redis_client: redis.Redis) -> Iterator[str]:
    """A key prefix of the test's own (``addlink-test-<hex>:``); its keys are deleted after."""
    prefix = _unique("addlink-test") + ":"
    yield prefix
    keys = list(redis_client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        redis_client.delete(*keys)
