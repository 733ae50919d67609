"""Run the pipeline's stages in threads until asked to stop: what `addlink run` does after parsing.

Start-up checks (topics, MariaDB and Elasticsearch refusals) come first; signals ask the stages to
finish the message in hand and commit, with a watchdog bounding the drain (see stream/cli/run.py)."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Sequence

from sinks.base import Sink, SinkError, TransientSinkError
from stream.config import Settings
from stream.errors import AddlinkError
from stream.observe.health import HealthServer
from stream.pipeline.bootstrap import (
    Observability,
    Stage,
    build_ingest,
    build_regeneration,
    build_state,
    build_store,
    build_tag_sink,
    build_worker,
    create_missing_indices,
    ensure_pipeline_topics,
)
from stream.pipeline.outdated import Revisions
from stream.transport.kafka_io import TransportError

log = logging.getLogger(__name__)

ROLES = ("all", "ingest", "worker")


def build_stages(
    settings: Settings,
    role: str,
    obs: Observability,
    stop: threading.Event,
    *,
    quiet_period_override_s: int | None = None,
    revisions: Revisions | None = None,
) -> list[Stage]:
    """The subscribed stages of ``role`` and, with a worker, the regeneration walk when it is on
    (``quiet_period_override_s`` replaces every wiki's quiet period; ``revisions`` the walk's text
    source)."""
    state = build_state(settings)
    stages = []
    if role in ("all", "ingest"):
        ingest = build_ingest(settings, obs, stop, state=state)
        ingest.loop.subscribe(list(settings.kafka.source_topics))
        stages.append(ingest)
    if role in ("all", "worker"):
        worker = build_worker(settings, obs, stop, state=state, quiet_period_override_s=quiet_period_override_s)
        worker.loop.subscribe([settings.kafka.work_topic])
        stages.append(worker)
        regeneration = build_regeneration(settings, obs, stop, revisions=revisions)
        if regeneration is not None:
            stages.append(regeneration)
    return stages


def run_stages(stages: Sequence[Stage], stop: threading.Event) -> int:
    """Run every stage in its own thread until ``stop``; 0 if all ended cleanly, 1 if one failed
    (the others are then stopped too)."""
    failed = threading.Event()

    def target(stage: Stage) -> None:
        try:
            if stage.before is not None:
                stage.before()
            if stage.loop.run(until=stage.until):
                stage.finished.set()
        except Exception:
            failed.set()
            stop.set()
        finally:
            stage.close()

    threads = [threading.Thread(target=target, args=(stage,), name=f"addlink-{stage.loop.role}") for stage in stages]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=0.5)  # short joins keep the main thread responsive to signals
    return 1 if failed.is_set() else 0


def install_signal_handlers(stop: threading.Event, shutdown_timeout_s: float) -> None:
    """First SIGTERM/SIGINT: request a stop, with a watchdog; the second: exit at once."""

    def watchdog() -> None:  # a daemon thread: it dies with the process when shutdown ends in time
        time.sleep(shutdown_timeout_s)
        log.error("shutdown took too long; exiting without the final commit", extra={"timeout_s": shutdown_timeout_s})
        os._exit(1)

    def handle(signum: int, _frame: object) -> None:
        if stop.is_set():
            os._exit(128 + signum)
        log.info("stop requested", extra={"signal": signal.Signals(signum).name})
        stop.set()
        threading.Thread(target=watchdog, name="addlink-shutdown-watchdog", daemon=True).start()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def prepare(settings: Settings, *, create_indices: bool) -> None:
    """Create the pipeline's topics (and, when asked, missing indices); one-line errors if unreachable.
    MariaDB and Elasticsearch are checked too: a refusal (credentials, TLS) stops start-up naming the
    service; an unreachable one is only logged, since the pipeline waits for a service that is down."""
    try:
        ensure_pipeline_topics(settings)
    except TransportError as error:
        raise AddlinkError(f"kafka at {settings.kafka.bootstrap_servers}: {error}") from error
    check_sinks(settings)
    if create_indices:
        try:
            create_missing_indices(settings)
        except SinkError as error:
            raise AddlinkError(f"elasticsearch at {settings.elasticsearch.url}: {error}") from error


def check_sinks(settings: Settings) -> None:
    """Connect once to MariaDB and (unless tags go out as events) Elasticsearch; see ``prepare``."""
    sinks: list[tuple[str, Sink]] = [(f"mariadb at {settings.mariadb.host}:{settings.mariadb.port}", build_store(settings))]
    if settings.tags_mode == "elasticsearch":
        sinks.append((f"elasticsearch at {settings.elasticsearch.url}", build_tag_sink(settings, None)))
    for where, sink in sinks:
        try:
            sink.setup()
        except TransientSinkError as error:
            log.warning("service not reachable at start-up; waiting for it", extra={"service": where, "error": str(error)})
        except SinkError as error:
            raise AddlinkError(f"{where}: {error}") from error
        finally:
            sink.close()


def run(settings: Settings, *, role: str = "all", create_indices: bool = False) -> int:
    """The `addlink run` command after parsing: serve health and metrics, run the stages until signalled."""
    stop = threading.Event()
    install_signal_handlers(stop, settings.pipeline.shutdown_timeout_s)
    prepare(settings, create_indices=create_indices)
    obs = Observability()
    assert obs.health is not None
    try:
        server = HealthServer(settings.metrics.host, settings.metrics.port, obs.health, obs.registry).start()
    except OSError as error:
        raise AddlinkError(f"cannot serve metrics on {settings.metrics.host}:{settings.metrics.port}: {error}") from error
    try:
        stages = build_stages(settings, role, obs, stop)
        log.info("addlink run started", extra={"role": role, "metrics": f"{settings.metrics.host}:{server.port}",
                                              "transport": settings.kafka.client})
        return run_stages(stages, stop)
    finally:
        server.stop()
        log.info("addlink run stopped", extra={"role": role})
