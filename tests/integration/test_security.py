"""Security against the local stack's secured endpoints (stack/env.sh, ADDLINK_TEST_SECURE_*).

The real pipeline runs with Kafka over SASL_SSL (SCRAM-SHA-512), MariaDB with a password over
verified TLS (its user REQUIREs SSL), Redis with an ACL user over TLS, and Elasticsearch through
TLS + HTTP basic auth (nginx in front of the node: the integ-test Elasticsearch has no security
module, see README). Secrets come from ``*_file`` keys and ``ADDLINK_*`` environment variables,
never the file. Also: wrong passwords and missing TLS fail with an error naming the service and no
secret; no password appears in the run's JSON logs or error events; the metrics listener binds to
loopback by default; every SQL statement in sinks/ passes its values as parameters.

Set-up and clean-up go through the plain endpoints (pipeline_env); only the run uses the secured ones.
"""

from __future__ import annotations

import ast
import base64
import io
import logging
import os
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from prometheus_client import CollectorRegistry

from pipeline_env import WIKI, PipelineEnv, handled, make, sample_articles, services  # noqa: F401 - fixtures
from sinks.base import SinkError
from sinks.mariadb import RecommendationStore
from stream.pipeline.bootstrap import mariadb_options
from stream.cli.run import prepare
from stream.config import Settings, load_settings
from stream.errors import AddlinkError
from stream.core.events import encode_key
from stream.observe.health import Health, HealthServer
from stream.transport.kafka_io import make_consumer, make_producer
from stream.observe.logs import JsonFormatter
from stream.core.quiet import SystemClock
from stream.pipeline.state import PageState, connect as connect_redis

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SECURE_VARS = ("ADDLINK_TEST_SECURE_KAFKA", "ADDLINK_TEST_SECURE_ELASTICSEARCH", "ADDLINK_TEST_SECURE_MARIADB",
               "ADDLINK_TEST_SECURE_REDIS", "ADDLINK_TEST_SECURE_USER", "ADDLINK_TEST_SECURE_DIR")
SERVICES = ("kafka", "elasticsearch", "mariadb", "redis")
START_HINT = "start the local stack with `bash stack/up.sh`, then `source stack/env.sh`"


@dataclass(frozen=True)
class SecureStack:
    """The secured endpoints, their test user, the CA and one password file per service."""

    kafka: str
    elasticsearch: str
    mariadb_host: str
    mariadb_port: int
    redis: str
    user: str
    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    def password_file(self, service: str) -> Path:
        return self.directory / f"{service}.password"

    def password(self, service: str) -> str:
        return self.password_file(service).read_text(encoding="utf-8").strip()

    def forbidden(self) -> list[str]:
        """Every form a secret could leak in: the passwords, and the basic-auth header value."""
        found = [self.password(service) for service in SERVICES]
        basic = f"{self.user}:{self.password('elasticsearch')}".encode()
        return [*found, base64.b64encode(basic).decode()]


@pytest.fixture(scope="session")
def secure() -> SecureStack:
    """The secured endpoints; FAILS (never skips) when they are not configured or not listening."""
    missing = [name for name in SECURE_VARS if not os.environ.get(name)]
    if missing:
        pytest.fail(f"secured endpoints not configured ({', '.join(missing)} unset): {START_HINT}", pytrace=False)
    mariadb = urlsplit(os.environ["ADDLINK_TEST_SECURE_MARIADB"])
    stack = SecureStack(
        kafka=os.environ["ADDLINK_TEST_SECURE_KAFKA"],
        elasticsearch=os.environ["ADDLINK_TEST_SECURE_ELASTICSEARCH"],
        mariadb_host=mariadb.hostname or "127.0.0.1",
        mariadb_port=mariadb.port or 3306,
        redis=os.environ["ADDLINK_TEST_SECURE_REDIS"],
        user=os.environ["ADDLINK_TEST_SECURE_USER"],
        directory=Path(os.environ["ADDLINK_TEST_SECURE_DIR"]),
    )
    files = [stack.ca, *(stack.password_file(service) for service in SERVICES)]
    absent = [str(path) for path in files if not path.is_file()]
    if absent:
        pytest.fail(f"TLS/credential files missing ({', '.join(absent)}): {START_HINT}", pytrace=False)
    endpoints = {"kafka": stack.kafka, "elasticsearch": urlsplit(stack.elasticsearch).netloc,
                 "mariadb": f"{stack.mariadb_host}:{stack.mariadb_port}", "redis": urlsplit(stack.redis).netloc}
    for service, endpoint in endpoints.items():
        host, port = endpoint.rsplit(":", 1)
        try:
            socket.create_connection((host, int(port)), timeout=3).close()
        except OSError as error:
            pytest.fail(f"secured {service} at {endpoint} does not answer ({error}): {START_HINT}", pytrace=False)
    return stack


def secure_config(env: PipelineEnv, secure: SecureStack, monkeypatch: pytest.MonkeyPatch, **changes: Any) -> Path:
    """``env``'s settings pointed at the secured endpoints, as a YAML file. Kafka's and Elasticsearch's
    passwords are ``*_file`` keys; MariaDB's and Redis's come from ADDLINK_* environment variables
    (set here). ``changes``: dotted keys to override, None removes a key."""
    data = env.settings.model_dump(mode="json", exclude_none=True)
    data["kafka"] |= {"bootstrap_servers": secure.kafka, "security_protocol": "SASL_SSL",
                      "sasl_mechanism": "SCRAM-SHA-512", "sasl_username": secure.user,
                      "sasl_password_file": str(secure.password_file("kafka")), "ssl_cafile": str(secure.ca)}
    data["elasticsearch"] |= {"url": secure.elasticsearch, "username": secure.user,
                              "password_file": str(secure.password_file("elasticsearch")), "ca_certs": str(secure.ca)}
    data["mariadb"] |= {"host": secure.mariadb_host, "port": secure.mariadb_port, "user": secure.user, "tls": True,
                        "ssl_ca": str(secure.ca)}
    data["redis"] |= {"url": secure.redis, "username": secure.user, "ssl_ca_certs": str(secure.ca)}
    monkeypatch.setenv("ADDLINK_MARIADB__PASSWORD", secure.password("mariadb"))
    monkeypatch.setenv("ADDLINK_REDIS__PASSWORD", secure.password("redis"))
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node[key]
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    path = env.directory / f"secure-{secrets.token_hex(3)}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Every log record of the test (DEBUG and up, client libraries included) as JSON lines."""
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield captured
    root.removeHandler(handler)
    root.setLevel(level)


def assert_no_secret(text: str, secure: SecureStack, *extra: str) -> None:
    for secret in (*secure.forbidden(), *extra):
        assert secret not in text, "a secret appears in the output"


# --------------------------------------------------------------------------- the secured pipeline


def test_pipeline_runs_on_secured_services_and_leaks_no_secret(make, secure, monkeypatch, json_logs) -> None:
    env = make()
    settings = load_settings(secure_config(env, secure, monkeypatch))
    assert settings.kafka.security_protocol == "SASL_SSL" and settings.redis.tls and settings.mariadb.tls
    prepare(settings, create_indices=True)  # topics and index through SASL_SSL and the TLS proxy

    pages = sample_articles()
    producer = make_producer(settings.kafka, client_id="addlink-test-secure")
    for event in env.article_events():
        producer.produce(env.source_topic, value=_json(event), key=encode_key(WIKI, event["page"]["page_id"]))
    producer.produce(env.source_topic, value=b'{"not": "a page change"')  # lands in the error topic
    assert producer.flush(30) == 0

    tally = env.run(lambda t: handled(t) >= len(pages), settings=settings, timeout=120)

    assert tally.summary()["outcomes"] == {"success": len(pages)}
    rows = env.rows()
    assert {page for page, data in rows.values() if data is not None} == {page.page_id for page in pages}
    assert env.tagged_pages() == {page.page_id for page in pages}
    errors = env.error_events()
    assert errors, "the malformed event reached the error topic"
    logs = json_logs.getvalue()
    assert logs.count("\n") > 5, "the run logged"
    assert_no_secret(logs, secure)
    assert_no_secret("\n".join(map(_json_text, errors)), secure)
    # The state went through the ACL user (only it uses this prefix on the TLS port).
    assert PageState(connect_redis(settings.redis), settings.redis).latest_rev(WIKI, pages[0].page_id) == pages[0].rev_id


def test_kafka_python_transport_over_sasl_ssl(make, secure, monkeypatch) -> None:
    env = make(client="kafka-python")
    settings = load_settings(secure_config(env, secure, monkeypatch))
    producer = make_producer(settings.kafka, client_id="addlink-test-secure")
    token = secrets.token_hex(8).encode()
    producer.produce(env.source_topic, value=token, key=b"k")
    assert producer.flush(30) == 0
    consumer = make_consumer(settings.kafka, f"addlink-test-secure-{env.uid}", client_id="addlink-test-secure")
    try:
        consumer.assign({(env.source_topic, 0): 0})
        values: list[bytes] = []
        for _ in range(50):
            values += [message.value for message in consumer.poll(10, 0.5)]
            if token in values:
                break
        assert values == [token]
    finally:
        consumer.close()


# --------------------------------------------------------------------------- failures name the service


WRONG = "wrong-" + secrets.token_hex(8)


def _kafka(settings: Settings) -> str:
    with pytest.raises(AddlinkError) as caught:
        prepare(settings, create_indices=False)
    return str(caught.value)


def _elasticsearch(settings: Settings) -> str:
    with pytest.raises(AddlinkError) as caught:
        prepare(settings, create_indices=True)
    return str(caught.value)


def _mariadb(settings: Settings) -> str:
    with pytest.raises(SinkError) as caught:
        RecommendationStore(mariadb_options(settings)).ensure_schema(WIKI)
    with pytest.raises(AddlinkError) as at_start:  # and `addlink run` stops at start-up
        prepare(settings, create_indices=False)
    assert str(caught.value) in str(at_start.value)
    return str(at_start.value)


def _redis(settings: Settings) -> str:
    with pytest.raises(AddlinkError) as caught:
        connect_redis(settings.redis)
    return str(caught.value)


FAILURES = {
    # case: (how to break the configuration, check that raises, words the message must hold)
    "kafka wrong password": ({"kafka.sasl_password_file": "WRONG"}, _kafka, ("kafka at", "authentication")),
    "kafka without TLS": ({"kafka.security_protocol": "SASL_PLAINTEXT", "kafka.ssl_cafile": None}, _kafka,
                          ("kafka at", "security_protocol")),
    "elasticsearch wrong password": ({"elasticsearch.password_file": "WRONG"}, _elasticsearch,
                                     ("elasticsearch at", "401")),
    "elasticsearch without TLS": ({"elasticsearch.url": "PLAIN"}, _elasticsearch, ("elasticsearch at", "400")),
    "mariadb wrong password": ({"ADDLINK_MARIADB__PASSWORD": "WRONG"}, _mariadb, ("mariadb:", "access denied")),
    "mariadb untrusted certificate": ({"mariadb.ssl_ca": None}, _mariadb, ("mariadb:", "certificate verify failed")),
    "redis wrong password": ({"ADDLINK_REDIS__PASSWORD": "WRONG"}, _redis, ("redis at", "authentication failed")),
    "redis untrusted certificate": ({"redis.ssl_ca_certs": None}, _redis, ("redis at", "certificate")),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_bad_credentials_or_missing_tls_fail_naming_the_service(make, secure, monkeypatch, json_logs, case) -> None:
    env = make()
    breakage, check, words = FAILURES[case]
    wrong_file = env.directory / "wrong.password"
    wrong_file.write_text(WRONG, encoding="utf-8")
    changes: dict[str, Any] = {}
    for key, value in breakage.items():
        value = {"WRONG": str(wrong_file), "PLAIN": secure.elasticsearch.replace("https://", "http://")}.get(value, value)
        changes[key] = value
    env_changes = {key: changes.pop(key) for key in list(changes) if key.startswith("ADDLINK_")}
    path = secure_config(env, secure, monkeypatch, **changes)
    for name in env_changes:
        monkeypatch.setenv(name, WRONG)
    message = check(load_settings(path))
    for word in words:
        assert word in message.lower(), f"{word!r} not in {message!r}"
    assert_no_secret(message, secure, WRONG)
    assert_no_secret(json_logs.getvalue(), secure, WRONG)


def test_mariadb_user_requires_tls(secure) -> None:
    """The server side of "TLS or nothing": the right password without TLS is refused. (With
    ``mariadb.tls`` false the driver still encrypts when offered, without verifying the server.)"""
    import pymysql

    with pytest.raises(pymysql.err.OperationalError) as caught:
        pymysql.connect(host=secure.mariadb_host, port=secure.mariadb_port, user=secure.user,
                        password=secure.password("mariadb"), ssl_disabled=True, connect_timeout=5)
    assert caught.value.args[0] == 1045


def test_redis_plaintext_to_the_tls_port_is_refused(make, secure, monkeypatch) -> None:
    """A redis:// URL on the TLS port gets no answer: the first command fails (unreachable is retried,
    so this is a connection error, not a configuration error)."""
    import redis

    env = make()
    settings = load_settings(secure_config(env, secure, monkeypatch, **{
        "redis.url": secure.redis.replace("rediss://", "redis://"), "redis.ssl_ca_certs": None,
        "redis.socket_timeout_s": 2.0}))
    with pytest.raises(redis.ConnectionError):
        PageState(connect_redis(settings.redis), settings.redis).latest_rev(WIKI, 1)


# --------------------------------------------------------------------------- loopback metrics, SQL


def test_metrics_listener_binds_loopback_by_default(tmp_path) -> None:
    config = tmp_path / "minimal.yaml"
    config.write_text("wikis: {}\n", encoding="utf-8")
    settings = load_settings(config)
    assert settings.metrics.host == "127.0.0.1"
    server = HealthServer(settings.metrics.host, 0, Health(SystemClock()), CollectorRegistry()).start()
    try:
        assert server._server.socket.getsockname()[0] == "127.0.0.1"
        other = _non_loopback_address()
        if other is not None:  # the port must be closed on every other interface
            with pytest.raises(OSError):
                socket.create_connection((other, server.port), timeout=2).close()
    finally:
        server.stop()


def _non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent, only a route chosen
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


SQL_VERB = ("SELECT", "INSERT", "REPLACE", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER")
IDENTIFIER_NAMES = {"database", "table", "name", "RECOMMENDATIONS", "SUBMISSIONS", "TABLE_OPTIONS"}
"""Names whose values are SQL identifiers (checked by sinks/mariadb.py's _identifier) or fixed DDL."""


def sql_problems(source: str, filename: str) -> list[str]:
    """Places where a value (not an identifier) is formatted into SQL text, or where a statement with
    placeholders is executed without its parameters."""
    problems: list[str] = []
    tree = ast.parse(source, filename)

    def placeholders(node: ast.expr) -> bool:
        """``", ".join(["%s"] * n)``: a list of placeholders."""
        return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "join"
                and len(node.args) == 1 and isinstance(node.args[0], ast.BinOp)
                and isinstance(node.args[0].left, ast.List)
                and all(isinstance(e, ast.Constant) and e.value == "%s" for e in node.args[0].left.elts))

    placeholder_names = {target.id for node in ast.walk(tree) if isinstance(node, ast.Assign) and placeholders(node.value)
                         for target in node.targets if isinstance(target, ast.Name)}

    def identifier_like(node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            return node.id in IDENTIFIER_NAMES or node.id in placeholder_names
        if placeholders(node):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            return node.func.attr in ("table", "database_for", "_identifier")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return node.func.id == "_identifier"
        if isinstance(node, ast.JoinedStr):
            return all(identifier_like(v.value) for v in node.values if isinstance(v, ast.FormattedValue))
        return False

    def text_of(node: ast.expr) -> str:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            return "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        return ""

    for node in ast.walk(tree):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.JoinedStr) and text_of(node).lstrip().upper().startswith(SQL_VERB):
            bad = [ast.unparse(v.value) for v in node.values
                   if isinstance(v, ast.FormattedValue) and not identifier_like(v.value)]
            if bad:
                problems.append(f"{where}: value formatted into SQL: {', '.join(bad)}")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and \
                text_of(node.left).lstrip().upper().startswith(SQL_VERB):
            problems.append(f"{where}: SQL built with the % operator")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
            if text_of(node.func.value).lstrip().upper().startswith(SQL_VERB) or \
                    (isinstance(node.func.value, ast.Name) and node.func.value.id == "ddl"):
                bad = [ast.unparse(k.value) for k in node.keywords if not identifier_like(k.value)]
                if node.args or bad:
                    problems.append(f"{where}: value formatted into SQL via .format(): {', '.join(bad) or 'positional'}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr in ("execute", "executemany") and node.args:
            if "%s" in text_of(node.args[0]) and len(node.args) + len(node.keywords) < 2:
                problems.append(f"{where}: placeholders without parameters")
    return problems


def test_every_sql_statement_in_sinks_is_parameterized() -> None:
    executes = 0
    problems: list[str] = []
    for path in sorted((REPO / "sinks").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        executes += source.count(".execute(") + source.count(".executemany(")
        problems += sql_problems(source, path.name)
    assert executes >= 8, "the check found the statements it is meant to check"
    assert problems == []


@pytest.mark.parametrize("bad", [
    'cur.execute(f"DELETE FROM {table} WHERE gelr_page = {page_id}")',
    'cur.execute("SELECT * FROM t WHERE id = %s" % page_id)',
    'cur.execute("SELECT * FROM t WHERE id = %s")',
    'cur.execute("SELECT {} FROM t".format(column))',
])
def test_the_sql_check_catches_interpolated_values(bad: str) -> None:
    assert sql_problems(bad, "example.py")


# --------------------------------------------------------------------------- helpers


def _json(event: dict[str, Any]) -> bytes:
    from sinks.base import json_bytes

    return json_bytes(event)


def _json_text(event: dict[str, Any]) -> str:
    import json

    return json.dumps(event, ensure_ascii=False)
