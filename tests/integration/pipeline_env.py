"""A fresh, isolated pipeline on the local stack for one test: its own topics, consumer groups,
Redis key prefix, MariaDB databases and Elasticsearch indices, removed afterwards.

Also: a tiny real model bundle trained once per test process from the repository's sample dump
(tests/data/dumps, real Wikipedia excerpts, see its ATTRIBUTION.md), and helpers that run the
real stages in-process (or as `addlink run` subprocesses) and read back what landed in the stores.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import mwparserfromhell
import pymysql
import pytest
import redis
import yaml
from confluent_kafka import Consumer as KafkaConsumer
from confluent_kafka.admin import AdminClient
from elasticsearch import Elasticsearch

from scoring.dumps import DumpPage, is_article, iter_pages
from sinks.base import json_bytes
from sinks.elasticsearch import WeightedTagSink
from stream.pipeline.bootstrap import Observability, build_store, ensure_pipeline_topics
from stream.ops.backfill import page_change_event, wiki_domain
from stream.pipeline.content import Revision
from stream.pipeline.outdated import Revisions
from stream.pipeline.runner import build_stages, run_stages
from stream.config import Settings
from stream.core.events import encode_key
from stream.transport.kafka_io import ensure_topics, make_producer
from stream.observe.metrics import OutcomeTally, Sensor

REPO = Path(__file__).resolve().parents[2]
DUMPS = REPO / "tests" / "data" / "dumps"
WIKI = "elwiki"
LANGUAGE = "el"


@dataclass(frozen=True)
class Services:
    """Where the local stack is (from tests/integration/conftest.py's session fixtures)."""

    kafka: str
    elasticsearch: str
    mariadb: dict[str, Any]
    redis: str

FAST = {"commit_interval_s": 0.2, "commit_max_items": 50, "session_timeout_ms": 6_000, "lag_interval_s": 1.0,
        "backoff_max_s": 2.0, "shutdown_timeout_s": 20.0, "rejoin_after_s": 20.0}
"""settings.pipeline of test environments: quick commits, quick rebalances after a kill."""


@functools.cache
def trained_models_dir() -> Path:
    """A real elwiki bundle trained once per process on the sample dump (gate forced: five articles
    are too few to pass it; at most 20 boosting rounds are plenty for five training rows)."""
    from scoring.train import train

    directory = Path(tempfile.mkdtemp(prefix="addlink-test-models-"))
    train(DUMPS / "el-sample.xml.bz2", directory, wiki=WIKI, language=LANGUAGE, force=True, progress=False,
          max_rounds=20)
    return directory


@functools.cache
def retrained_models_dir() -> Path:
    """A second elwiki bundle whose model differs from ``trained_models_dir``'s: it names a shared model
    (el and ltg pooled), another model, another checksum. (Retraining the tiny el excerpt alone gives
    the same model: its few rows make cross-validation choose the same setting and round whatever
    the cap.)"""
    from scoring.shared import train_shared
    from scoring.train import train

    directory = Path(tempfile.mkdtemp(prefix="addlink-test-models-new-"))
    train(DUMPS / "el-sample.xml.bz2", directory, wiki=WIKI, language=LANGUAGE, force=True, progress=False, max_rounds=20)
    train(DUMPS / "ltg-sample.xml.bz2", directory, wiki="ltgwiki", force=True, progress=False, max_rounds=20)
    train_shared(directory, "pooled", [WIKI, "ltgwiki"])
    train(DUMPS / "el-sample.xml.bz2", directory, wiki=WIKI, language=LANGUAGE, force=True, progress=False,
          shared_model="pooled")
    return directory


def own_models_dir() -> Path:
    """A private copy of ``trained_models_dir`` (versions and symlinks), whose bundles a test may replace."""
    directory = Path(tempfile.mkdtemp(prefix="addlink-test-models-own-")) / "models"
    shutil.copytree(trained_models_dir(), directory, symlinks=True)
    return directory


def publish_bundle(source: Path, models_dir: Path, wiki: str = WIKI) -> None:
    """Make ``source``'s current bundle of ``wiki`` (with the shared models it may name) the current one
    in ``models_dir``, as ``addlink train`` publishes: the version copied in, then the symlink swapped."""
    version = (source / wiki).resolve()
    shutil.copytree(version, models_dir / version.name)
    if (source / "_shared").is_dir():
        shutil.copytree(source / "_shared", models_dir / "_shared", dirs_exist_ok=True)
    temporary = models_dir / f".{wiki}.link-{secrets.token_hex(3)}"
    temporary.symlink_to(version.name)
    os.replace(temporary, models_dir / wiki)


class DumpRevisions:
    """The sample dump's revisions as the MediaWiki Action API would give them (text as published,
    delinked); ``asked`` records the revisions asked for."""

    def __init__(self) -> None:
        self.pages = {page.rev_id: page for page in sample_articles()}
        self.asked: list[int] = []

    def revision(self, *, wiki_id: str, domain: str | None, rev_id: int) -> Revision | None:
        self.asked.append(rev_id)
        page = self.pages.get(rev_id)
        if page is None:
            return None
        return Revision(title=page.title.replace(" ", "_"), namespace_id=0,
                        timestamp=datetime.fromisoformat(page.timestamp), wikitext=delinked(page.text))


def delinked(wikitext: str) -> str:
    """The article as if nobody had linked it yet: every top-level article link replaced by its text
    (an under-linked revision, the kind Add a Link exists for). Files and categories are kept."""
    code = mwparserfromhell.parse(wikitext)
    for link in code.filter_wikilinks(recursive=False):
        target = str(link.title)
        if ":" not in target:
            code.replace(link, str(link.text) if link.text is not None else target)
    return str(code)


@functools.cache
def sample_articles(wiki_dump: str = "el-sample.xml.bz2") -> tuple[DumpPage, ...]:
    return tuple(page for page in iter_pages(DUMPS / wiki_dump) if is_article(page))


@dataclass
class PipelineEnv:
    """Everything one test needs; ``close()`` removes what it created."""

    uid: str
    settings: Settings
    directory: Path
    services: Services
    _es: Elasticsearch = field(repr=False)
    wiki: str = WIKI

    @property
    def source_topic(self) -> str:
        return self.settings.kafka.source_topics[0]

    @property
    def database(self) -> str:
        return self.settings.database_for(self.wiki)

    @property
    def index(self) -> str:
        return self.settings.index_for(self.wiki)

    # ------------------------------------------------------------------ input

    def publish(self, events: Iterable[dict[str, Any]], topic: str | None = None) -> int:
        producer = make_producer(self.settings.kafka, client_id="addlink-test")
        count = 0
        for event in events:
            producer.produce(topic or self.source_topic, value=json_bytes(event),
                             key=encode_key(event["wiki_id"], event["page"]["page_id"]))
            count += 1
        assert producer.flush(30) == 0
        return count

    def publish_raw(self, values: Iterable[bytes]) -> None:
        producer = make_producer(self.settings.kafka, client_id="addlink-test")
        for value in values:
            producer.produce(self.source_topic, value=value)
        assert producer.flush(30) == 0

    def article_events(self, pages: Iterable[DumpPage] | None = None, **changes: Any) -> list[dict[str, Any]]:
        """Edit events of real sample articles; ``changes`` override page_change_event arguments."""
        return [self.event(page, **changes) for page in (pages if pages is not None else sample_articles())]

    def event(self, page: DumpPage, **changes: Any) -> dict[str, Any]:
        """An edit event of the sample article ``page`` with its links removed (see ``delinked``)."""
        args: dict[str, Any] = dict(wiki_id=WIKI, domain=wiki_domain(WIKI, LANGUAGE), page_id=page.page_id,
                                    title=page.title, rev_id=page.rev_id, rev_dt=page.timestamp,
                                    text=delinked(page.text))
        args.update(changes)
        return page_change_event(**args)

    # ------------------------------------------------------------------ running

    def run(self, until: Callable[[OutcomeTally], bool], *, timeout: float = 60.0, role: str = "all",
            quiet_period_override_s: int | None = None, settings: Settings | None = None,
            revisions: Revisions | None = None, sensors: Iterable[Sensor] = ()) -> OutcomeTally:
        """Run the real stages in-process until ``until(tally)`` holds (then stop, which commits);
        ``revisions``: the text source of the regeneration walk (none: the walk is off); ``sensors``
        see the run too."""
        settings = settings or self.settings
        tally = OutcomeTally()
        obs = Observability(extra_sensors=[tally, *sensors])
        stop = threading.Event()
        stages = build_stages(settings, role, obs, stop, quiet_period_override_s=quiet_period_override_s,
                              revisions=revisions)
        status: list[int] = []
        thread = threading.Thread(target=lambda: status.append(run_stages(stages, stop)), daemon=True)
        thread.start()
        deadline = time.monotonic() + timeout
        try:
            while not until(tally):
                assert thread.is_alive(), "the pipeline stopped by itself"
                assert time.monotonic() < deadline, f"condition not reached in {timeout}s: {tally.summary()}"
                time.sleep(0.1)
        finally:
            stop.set()
            thread.join(timeout=60)
        assert status == [0], f"pipeline exit status {status}"
        return tally

    def write_config(self, **overrides: Any) -> Path:
        """The settings as a YAML file for `addlink` subprocesses."""
        data = self.settings.model_dump(mode="json", exclude_none=True)
        for dotted, value in overrides.items():
            node = data
            *parents, leaf = dotted.split(".")
            for key in parents:
                node = node.setdefault(key, {})
            node[leaf] = value
        path = self.directory / f"addlink-{secrets.token_hex(3)}.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return path

    def spawn(self, config: Path, *args: str) -> subprocess.Popen:
        """`addlink run --config CONFIG ARGS...` as a subprocess (stderr: JSON logs to a file)."""
        log = open(self.directory / f"run-{secrets.token_hex(3)}.log", "wb")  # noqa: SIM115 - closed with the process
        return subprocess.Popen([sys.executable, "-m", "stream.cli", "run", "--config", str(config), *args],
                                cwd=REPO, stdout=log, stderr=subprocess.STDOUT)

    def add_submissions(self, rows: Iterable[tuple[int, int, int, int | None, str]]) -> None:
        """Rows of growthexperiments_link_submissions as MediaWiki writes them on a reviewer's save:
        (gels_revision, gels_page, gels_target, gels_edit_revision, gels_feedback)."""
        build_store(self.settings).ensure_schema(self.wiki)
        connection = pymysql.connect(**self.services.mariadb, database=self.database, autocommit=True)
        try:
            with connection.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO growthexperiments_link_submissions (gels_revision, gels_anchor_offset, gels_target,"
                    " gels_page, gels_edit_revision, gels_user, gels_anchor_length, gels_feedback)"
                    " VALUES (%s, %s, %s, %s, %s, 1, 5, %s)",
                    [(rev, offset, target, page, edit_rev, feedback)
                     for offset, (rev, page, target, edit_rev, feedback) in enumerate(rows)],
                )
        finally:
            connection.close()

    # ------------------------------------------------------------------ reading the stores

    def rows(self, page_id: int | None = None) -> dict[int, tuple[int, bytes | None]]:
        """revision -> (page, gelr_data) of the wiki's recommendations table (optionally one page)."""
        try:
            connection = pymysql.connect(**self.services.mariadb, database=self.database, autocommit=True)
        except pymysql.err.OperationalError as error:
            if error.args[0] == 1049:  # unknown database: nothing was written yet
                return {}
            raise
        try:
            with connection.cursor() as cursor:
                sql = "SELECT gelr_revision, gelr_page, gelr_data FROM growthexperiments_link_recommendations"
                if page_id is None:
                    cursor.execute(sql)
                else:
                    cursor.execute(sql + " WHERE gelr_page = %s", (page_id,))
                return {int(rev): (int(page), data) for rev, page, data in cursor.fetchall()}
        except pymysql.err.ProgrammingError:
            return {}  # the table does not exist yet: nothing was written
        finally:
            connection.close()

    def tagged(self, page_id: int) -> bool:
        try:
            doc = self._es.get(index=self.index, id=str(page_id))
        except Exception as error:  # noqa: BLE001 - NotFoundError: no document, no tag
            if getattr(error, "status_code", None) == 404 or "not_found" in str(error).lower():
                return False
            raise
        return "recommendation.link/exists" in doc["_source"].get("weighted_tags", [])

    def tagged_pages(self) -> set[int]:
        self._es.indices.refresh(index=self.index)
        hits = self._es.search(index=self.index, query={"match": {"weighted_tags": "recommendation.link/exists"}},
                               size=10_000, source=False)
        return {int(hit["_id"]) for hit in hits["hits"]["hits"]}

    def forget_redis_state(self) -> None:
        """What a Redis restart without persistence does to this environment's keys."""
        client = redis.Redis.from_url(self.services.redis)
        keys = list(client.scan_iter(match=f"{self.settings.redis.key_prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()

    def topic_messages(self, topic: str, timeout: float = 10.0) -> list[bytes]:
        """Every message of ``topic`` up to its current end, in partition order."""
        from confluent_kafka import TopicPartition

        consumer = KafkaConsumer({"bootstrap.servers": self.services.kafka, "group.id": f"reader-{secrets.token_hex(4)}",
                                  "enable.auto.commit": False})
        try:
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in partitions}
            pending = {p for p, (low, high) in ends.items() if high > low}
            consumer.assign([TopicPartition(topic, p, ends[p][0]) for p in partitions])
            values: list[bytes] = []
            deadline = time.monotonic() + timeout
            while pending and time.monotonic() < deadline:
                for message in consumer.consume(500, 0.5):
                    if message.error() is None:
                        values.append(message.value())
                        if message.offset() + 1 >= ends[message.partition()][1]:
                            pending.discard(message.partition())
            assert not pending, f"could not read {topic} to its end in {timeout}s"
            return values
        finally:
            consumer.close()

    def run_logs(self, lines: int = 60) -> str:
        """The last ``lines`` of each `addlink run` log of this environment (for failure messages):
        the project's own records and anything that is not a JSON record (tracebacks)."""
        tails = []
        for path in sorted(self.directory.glob("run-*.log")):
            own = [line for line in path.read_text(errors="replace").splitlines()
                   if '"logger": "stream.' in line or not line.startswith("{")]
            tail = own[-lines:]
            tails.append(f"--- {path.name}\n" + "\n".join(tail))
        return "\n".join(tails)

    def error_events(self) -> list[dict[str, Any]]:
        return [json.loads(value) for value in self.topic_messages(self.settings.kafka.error_topic)]

    def committed_lag(self, topic: str, group: str) -> int:
        """Messages of ``topic`` not yet committed by ``group``."""
        from confluent_kafka import TopicPartition

        consumer = KafkaConsumer({"bootstrap.servers": self.services.kafka, "group.id": group,
                                  "enable.auto.commit": False})
        try:
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            tps = [TopicPartition(topic, p) for p in partitions]
            committed = consumer.committed(tps, timeout=10)
            lag = 0
            for tp in committed:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=10)
                lag += high - (tp.offset if tp.offset >= 0 else low)
            return lag
        finally:
            consumer.close()

    # ------------------------------------------------------------------ cleanup

    def close(self) -> None:
        kafka = self.settings.kafka
        topics = [*kafka.source_topics, kafka.work_topic, kafka.error_topic, kafka.weighted_tags_topic]
        AdminClient({"bootstrap.servers": self.services.kafka}).delete_topics(topics, operation_timeout=10)
        self.forget_redis_state()
        connection = pymysql.connect(**self.services.mariadb, autocommit=True)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{self.database}`")
        connection.close()
        self._es.indices.delete(index=self.index, ignore_unavailable=True)
        self._es.close()


def make_env(tmp_path: Path, services: Services, *, client: str = "confluent", partitions: int = 4,
             tags_mode: str = "elasticsearch", wiki_id: str = WIKI, models_dir: Path | None = None,
             **wiki: Any) -> PipelineEnv:
    """A fresh environment for ``wiki_id`` (default elwiki with the sample bundle; another wiki needs its
    ``models_dir`` and ``language``); ``wiki`` overrides its task-type settings (quiet period 0 by default)."""
    uid = secrets.token_hex(4)
    name = f"addlink-test-{uid}"
    wiki_settings: dict[str, Any] = {"language": LANGUAGE, "minimum_time_since_last_edit": 0,
                                     "database": f"addlink_test_{uid}_{wiki_id}"}
    if wiki_id == WIKI:
        # The el sample is an excerpt without template pages: its bundle finds no disambiguation
        # template, so the wiki's settings name it, as stack/addlink.yaml does.
        wiki_settings["disambiguation_templates"] = ["Αποσαφήνιση"]
    wiki_settings |= wiki
    settings = Settings(
        kafka={"bootstrap_servers": services.kafka, "client": client, "source_topics": [f"{name}.src"],
               "work_topic": f"{name}.work", "work_partitions": partitions, "error_topic": f"{name}.error",
               "weighted_tags_topic": f"{name}.tags", "ingest_group_id": f"{name}-ingest",
               "worker_group_id": f"{name}-worker"},
        redis={"url": services.redis, "key_prefix": name},
        mariadb={"host": services.mariadb["host"], "port": services.mariadb["port"], "user": services.mariadb["user"]},
        elasticsearch={"url": services.elasticsearch, "index_pattern": name + "-{wiki_id}_content"},
        metrics={"host": "127.0.0.1", "port": free_port()},
        pipeline=FAST,
        tags_mode=tags_mode,
        models_dir=models_dir or trained_models_dir(),
        emitter_id=f"{name}.emitter",
        wikis={wiki_id: wiki_settings},
    )
    ensure_topics(settings.kafka, {settings.kafka.source_topics[0]: 1})
    ensure_pipeline_topics(settings)
    es = Elasticsearch(services.elasticsearch)
    WeightedTagSink(es, index_pattern=settings.elasticsearch.index_pattern).ensure_index(wiki_id)
    return PipelineEnv(uid=uid, settings=settings, directory=tmp_path, services=services, _es=es, wiki=wiki_id)


@pytest.fixture
def services(kafka_bootstrap: str, elasticsearch_url: str, mariadb_params: dict[str, Any], redis_url: str) -> Services:
    """The stack's addresses (import this fixture into a test module to use ``make``)."""
    return Services(kafka_bootstrap, elasticsearch_url, mariadb_params, redis_url)


@pytest.fixture
def make(tmp_path: Path, services: Services) -> Iterator[Callable[..., PipelineEnv]]:
    """Factory of fresh environments (see make_env), all removed after the test."""
    envs: list[PipelineEnv] = []

    def factory(**kwargs: Any) -> PipelineEnv:
        env = make_env(tmp_path, services, **kwargs)
        envs.append(env)
        return env

    yield factory
    for env in envs:
        env.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def metric(port: int, name: str, labels: dict[str, str] | None = None) -> float:
    """One sample of a running process's /metrics (0 when absent)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if labels and not all(f'{k}="{v}"' in line for k, v in labels.items()):
            continue
        total += float(line.rsplit(" ", 1)[1])
    return total


def handled(tally: OutcomeTally) -> int:
    """Work items the worker finished (any outcome or skip)."""
    summary = tally.summary()
    return sum(summary["outcomes"].values()) + sum(summary["skipped"].values())
