"""Composition root: the only place that builds clients (Kafka, Redis, MariaDB, Elasticsearch).

``build_ingest`` and ``build_worker`` return a :class:`Stage`: a consume loop wired to its own
consumer, producer and sinks (each stage flushes and commits independently, so the two never share
a buffer across threads); ``build_regeneration`` the worker role's regeneration walk, a stage
without a consumer (stream/pipeline/regeneration.py). Everything a stage uses is passed in to the
handlers; tests build the same stages against the real services with fresh topics, databases and
indices, or pass fakes to the handlers directly. Commands (run, replay, bench) only call these functions.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import CollectorRegistry

from scoring.bundle import BundleCache, BundleError, current_model
from sinks.base import FenceReader, Sink, TagChange, TagSink
from sinks.elasticsearch import WeightedTagSink, connect as connect_elasticsearch
from sinks.error_events import ErrorEventSink
from sinks.mariadb import MariaDBOptions, RecommendationStore, RowWrite
from sinks.tag_events import TagEventSink
from stream.transport.checkpoint import Checkpoint
from stream.config import Settings
from stream.core.events import wiki_domain
from stream.pipeline.consume_loop import ConsumeLoop, Handler, LoopOptions
from stream.pipeline.content import ContentSource, MediaWikiActionApi, NoContent
from stream.errors import AddlinkError
from stream.observe.health import Health
from stream.pipeline.ingest import IngestHandler, WorkTopicSink
from stream.transport.kafka_io import ensure_topics, make_consumer, make_producer
from stream.observe.metrics import PrometheusSensor, Sensor, SensorSet
from stream.core.quiet import Clock, SystemClock
from stream.pipeline.state import PageState, connect as connect_redis
from stream.pipeline.scorers import ProcessScorer, Scorer
from stream.pipeline.outdated import Revisions
from stream.pipeline.regeneration import RedisLeases, Regenerator
from stream.pipeline.sink_failures import PageFailures
from stream.pipeline.worker import WorkerHandler

log = logging.getLogger(__name__)


MAX_POLL_INTERVAL_S = 300.0
"""Kafka's default max.poll.interval: a consumer that does not poll for longer leaves its group."""


def loop_options(settings: Settings, role: str) -> LoopOptions:
    """The consume loop's tuning from ``settings.pipeline``. A worker polls fewer messages at a time:
    a batch scored at the full deadline each must stay well within ``MAX_POLL_INTERVAL_S``."""
    pipeline = settings.pipeline
    batch = pipeline.poll_batch
    if role == "worker":
        batch = max(1, min(batch, int(MAX_POLL_INTERVAL_S / 2 / settings.scoring.deadline_seconds)))
    return LoopOptions(poll_batch=batch, backoff_max_s=pipeline.backoff_max_s, lag_interval_s=pipeline.lag_interval_s,
                       rejoin_after_s=pipeline.rejoin_after_s)


@dataclass
class Observability:
    """Clock, metrics registry, sensors and health shared by the stages of one process."""

    clock: Clock = field(default_factory=SystemClock)
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    extra_sensors: list[Sensor] = field(default_factory=list)
    health: Health | None = None
    sensor: Sensor = field(init=False)

    def __post_init__(self) -> None:
        self.sensor = SensorSet([PrometheusSensor(self.registry), *self.extra_sensors])
        if self.health is None:
            self.health = Health(self.clock)


class StageLoop(Protocol):
    """What runs a stage: a ConsumeLoop, or the regeneration walk (stream/pipeline/regeneration.py)."""

    role: str

    def run(self, until: Callable[[], bool] | None = None) -> bool: ...


@dataclass
class Stage:
    """A stage's loop, the resources to release after it ran, and how it ends: ``until`` (None:
    until stopped); ``finished`` is set once ``until()`` ended the loop (not a stop request);
    ``before``, when given, runs on the stage's thread before its loop starts (a replay's ingest waits
    there for its workers to join)."""

    loop: StageLoop
    sinks: list[Sink]
    producer: object
    until: Callable[[], bool] | None = None
    before: Callable[[], None] | None = None
    finished: threading.Event = field(default_factory=threading.Event)
    closers: list[Callable[[], None]] = field(default_factory=list)  # e.g. the scoring process

    def close(self) -> None:
        for closer in self.closers:
            closer()
        for sink in self.sinks:
            try:
                sink.close()
            except Exception:  # closing is best effort; the loop already committed or gave up
                log.exception("closing a sink failed", extra={"sink": getattr(sink, "name", "?")})
        flush = getattr(self.producer, "flush", None)
        if flush is not None:
            flush(5.0)


# --------------------------------------------------------------------------- clients


def secrets_of(settings: Settings) -> list[str]:
    """Every configured credential, for scrubbing error events."""
    found = []
    for section, name in ((settings.kafka, "sasl_password"), (settings.kafka, "ssl_key_password"),
                          (settings.redis, "password"), (settings.mariadb, "password"),
                          (settings.elasticsearch, "password")):
        secret = section.secret(name)
        if secret is not None:
            found.append(secret.get_secret_value())
    return found


def mariadb_options(settings: Settings) -> MariaDBOptions:
    db = settings.mariadb
    password = db.secret("password")
    return MariaDBOptions(
        host=db.host,
        port=db.port,
        user=db.user,
        password=password.get_secret_value() if password else None,
        tls=db.tls,
        ssl_ca=str(db.ssl_ca) if db.ssl_ca else None,
        ssl_cert=str(db.ssl_cert) if db.ssl_cert else None,
        ssl_key=str(db.ssl_key) if db.ssl_key else None,
        connect_timeout=db.connect_timeout_s,
        per_wiki_database=db.per_wiki_database,
        shared_database=db.database,
        databases={wiki_id: wiki.database for wiki_id, wiki in settings.wikis.items() if wiki.database},
    )


def build_store(settings: Settings, on_failure: Callable[[RowWrite, str], None] | None = None) -> RecommendationStore:
    return RecommendationStore(mariadb_options(settings), on_failure=on_failure)


def build_tag_sink(settings: Settings, producer: object, fences: FenceReader | None = None,
                   on_failure: Callable[[TagChange, str], None] | None = None) -> TagSink:
    """Elasticsearch directly, or page_weighted_tags_change events (``tags_mode``); ``fences``
    (the row store's) makes the changes that carry a revision compare-and-set; ``on_failure``
    isolates a page whose tag Elasticsearch refuses for good (see stream/pipeline/sink_failures.py)."""
    if settings.tags_mode == "events":
        return TagEventSink(producer, settings.kafka.weighted_tags_topic, fences=fences)  # type: ignore[arg-type]
    es = settings.elasticsearch
    password = es.secret("password")
    client = connect_elasticsearch(
        es.url,
        username=es.username,
        password=password.get_secret_value() if password else None,
        ca_certs=str(es.ca_certs) if es.ca_certs else None,
        verify_certs=es.verify_certs,
        request_timeout=es.request_timeout_s,
    )
    return WeightedTagSink(client, index_pattern=es.index_pattern, fences=fences, on_failure=on_failure)


def build_state(settings: Settings) -> PageState:
    return PageState(connect_redis(settings.redis), settings.redis)


def build_error_sink(settings: Settings, producer: object) -> ErrorEventSink:
    return ErrorEventSink(producer, settings.kafka.error_topic, emitter_id=settings.emitter_id,  # type: ignore[arg-type]
                          secrets=secrets_of(settings))


def ensure_pipeline_topics(settings: Settings) -> None:
    """Create the work and error topics (and the tag-event topic in events mode) if missing."""
    topics = {settings.kafka.work_topic: settings.kafka.work_partitions, settings.kafka.error_topic: 1}
    if settings.tags_mode == "events":
        topics[settings.kafka.weighted_tags_topic] = 1
    ensure_topics(settings.kafka, topics)


def content_source(settings: Settings) -> ContentSource:
    """The MediaWiki Action API when ``pipeline.fetch_missing_content``, else none (text-less events
    are then evaluated as "content not found")."""
    if settings.pipeline.fetch_missing_content:
        return action_api(settings)
    return NoContent()


def action_api(settings: Settings) -> MediaWikiActionApi:
    """The MediaWiki Action API client (``pipeline.mediawiki_api_url_template``)."""
    return MediaWikiActionApi(settings.pipeline.mediawiki_api_url_template, user_agent=f"{settings.emitter_id} "
                              "(addlink-stream; https://www.mediawiki.org/wiki/Growth)")


def create_missing_indices(settings: Settings) -> list[str]:
    """Create ``<wiki>_content`` (with the weighted_tags mapping) for every enabled wiki that lacks it.

    For local stacks and demos only: production indices belong to CirrusSearch, so by default a
    missing index stops the writes (backpressure) instead of being created. Returns the indices."""
    if settings.tags_mode != "elasticsearch":
        return []
    sink = build_tag_sink(settings, None)
    assert isinstance(sink, WeightedTagSink)
    try:
        return [sink.ensure_index(wiki_id) for wiki_id in settings.enabled_wikis()]
    finally:
        sink.close()


def check_bundles(settings: Settings, bundles: BundleCache) -> None:
    """Load each enabled wiki's bundle once, so a missing or broken model stops start-up."""
    for wiki_id in settings.enabled_wikis():
        try:
            bundles.get(wiki_id)
        except BundleError as error:
            raise AddlinkError(f"wiki {wiki_id}: {error}") from error


# --------------------------------------------------------------------------- stages


def _discarder(sinks: list[Sink]) -> Callable[[], None]:
    def discard() -> None:
        for sink in sinks:
            sink.discard()

    return discard


@dataclass
class StageParts:
    """The writers of one stage; ``extra`` are producer-backed sinks flushed after the tags."""

    producer: object
    store: RecommendationStore
    tags: TagSink
    errors: ErrorEventSink
    extra: list[Sink] = field(default_factory=list)


def build_parts(settings: Settings, producer: object, sensor: Sensor, role: str) -> StageParts:
    """The writers of one stage: the tag sink compare-and-set on the row store's fences, and both
    handing writes refused for good to the same PageFailures (error topic, metric)."""
    errors = build_error_sink(settings, producer)
    failures = PageFailures(errors=errors, sensor=sensor, role=role)
    store = build_store(settings, on_failure=failures.row_failed)
    tags = build_tag_sink(settings, producer, store.fences, on_failure=failures.tag_failed)
    failures.bind(store, tags)
    return StageParts(producer, store, tags, errors)


def _stage(
    role: str,
    settings: Settings,
    obs: Observability,
    stop: threading.Event,
    group_id: str,
    make_handler: Callable[[StageParts], Handler],
) -> Stage:
    producer = make_producer(settings.kafka, client_id=f"{settings.emitter_id}.{role}")
    parts = build_parts(settings, producer, obs.sensor, role)
    handler = make_handler(parts)
    consumer = make_consumer(settings.kafka, group_id, client_id=f"{settings.emitter_id}.{role}",
                             session_timeout_ms=settings.pipeline.session_timeout_ms)
    checkpoint = Checkpoint(
        role=role,
        committer=consumer,
        sinks=[(parts.store.name, parts.store), (parts.tags.name, parts.tags)],
        producers=[(sink.name, sink) for sink in (*parts.extra, parts.errors)],
        clock=obs.clock,
        sensor=obs.sensor,
        interval_seconds=settings.pipeline.commit_interval_s,
        max_pending=settings.pipeline.commit_max_items,
        drained_seconds=settings.pipeline.commit_drained_s,
    )
    all_sinks: list[Sink] = [parts.store, parts.tags, *parts.extra, parts.errors]
    assert obs.health is not None
    loop = ConsumeLoop(
        role=role,
        consumer=consumer,
        handler=handler,
        checkpoint=checkpoint,
        errors=parts.errors,
        discard_buffers=_discarder(all_sinks),
        clock=obs.clock,
        sensor=obs.sensor,
        health=obs.health,
        stop=stop,
        options=loop_options(settings, role),
    )
    return Stage(loop=loop, sinks=all_sinks, producer=producer)


def build_worker_handler(settings: Settings, parts: StageParts, obs: Observability, *, state: PageState, scorer: Scorer,
                         quiet_period_override_s: int | None = None,
                         bundles: BundleCache | None = None) -> WorkerHandler:
    """The worker's handler over one stage's writers (also used by ``addlink rescore``)."""
    return WorkerHandler(settings=settings, state=state, store=parts.store, tags=parts.tags, errors=parts.errors,
                         scorer=scorer, clock=obs.clock, sensor=obs.sensor,
                         quiet_period_override_s=quiet_period_override_s, bundles=bundles)


def build_ingest(
    settings: Settings,
    obs: Observability,
    stop: threading.Event,
    *,
    state: PageState | None = None,
    content: ContentSource | None = None,
    group_id: str | None = None,
) -> Stage:
    """Source topics -> invalidation + work items. Not subscribed yet: call ``loop.subscribe`` or ``loop.assign``."""
    state = state or build_state(settings)

    def handler(parts: StageParts) -> Handler:
        work = WorkTopicSink(parts.producer, settings.kafka.work_topic)  # type: ignore[arg-type]
        parts.extra.append(work)
        return IngestHandler(settings=settings, state=state, store=parts.store, tags=parts.tags, work=work,
                             errors=parts.errors, content=content or content_source(settings), sensor=obs.sensor,
                             clock=obs.clock)

    return _stage("ingest", settings, obs, stop, group_id or settings.kafka.ingest_group_id, handler)


def build_worker(
    settings: Settings,
    obs: Observability,
    stop: threading.Event,
    *,
    state: PageState | None = None,
    scorer: Scorer | None = None,
    quiet_period_override_s: int | None = None,
) -> Stage:
    """Work topic -> rules, scoring, rows and tags. Not subscribed yet: call ``loop.subscribe``."""
    state = state or build_state(settings)
    closers: list[Callable[[], None]] = []
    bundles = BundleCache(settings.models_dir)
    if scorer is None:
        check_bundles(settings, bundles)
        process_scorer = ProcessScorer(settings.models_dir, memory_limit_mb=settings.scoring.memory_limit_mb)
        closers.append(process_scorer.close)
        scorer = process_scorer

    def handler(parts: StageParts) -> Handler:
        return build_worker_handler(settings, parts, obs, state=state, scorer=scorer,
                                    quiet_period_override_s=quiet_period_override_s, bundles=bundles)

    stage = _stage("worker", settings, obs, stop, settings.kafka.worker_group_id, handler)
    stage.closers.extend(closers)
    return stage


def build_regeneration(settings: Settings, obs: Observability, stop: threading.Event, *,
                       revisions: Revisions | None = None) -> Stage | None:
    """The worker role's regeneration walk (stream/pipeline/regeneration.py), or None when it is off:
    ``regeneration.rate`` 0, or no text source (``pipeline.fetch_missing_content`` off and no
    ``revisions`` given)."""
    if not settings.regeneration.rate:
        return None
    if revisions is None:
        if not settings.pipeline.fetch_missing_content:
            log.warning("regeneration after a model change is off: it needs the revisions' text "
                        "(pipeline.fetch_missing_content)")
            return None
        revisions = action_api(settings)
    producer = make_producer(settings.kafka, client_id=f"{settings.emitter_id}.regeneration")
    work = WorkTopicSink(producer, settings.kafka.work_topic)  # type: ignore[arg-type]
    store = build_store(settings)
    wikis = {wiki_id: wiki_domain(wiki_id, wiki.language) for wiki_id, wiki in settings.enabled_wikis().items()}
    regenerator = Regenerator(wikis=wikis, models=lambda wiki: current_model(settings.models_dir, wiki), rows=store,
                              revisions=revisions, leases=RedisLeases(connect_redis(settings.redis),
                                                                      settings.redis.key_prefix),
                              work=work, sensor=obs.sensor, stop=stop, options=settings.regeneration)
    return Stage(loop=regenerator, sinks=[work, store], producer=producer)
