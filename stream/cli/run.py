"""`addlink run`: the long-running consumer (ingest and worker; one role or both).

`--role all` (default) runs the ingest loop and the worker loop in two threads of one process;
`--role ingest` / `--role worker` run one of them, so each can be scaled on its own (every worker
process joins the same consumer group of the work topic). `/healthz` and `/metrics` are served on
`metrics.host:metrics.port` (127.0.0.1:9464 by default); logs are JSON lines on stderr.

Shutdown: SIGTERM or SIGINT asks both loops to stop: each finishes the message in hand, commits
what is done and closes its consumer, so the group rebalances at once. If that takes longer than
the shutdown timeout the process exits anyway (uncommitted messages are delivered again later). A
second signal exits at once.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from sinks.base import Sink, SinkError, TransientSinkError
from stream.pipeline.bootstrap import (
    Observability,
    Stage,
    build_ingest,
    build_state,
    build_store,
    build_tag_sink,
    build_worker,
    create_missing_indices,
    ensure_pipeline_topics,
)
from stream.config import Settings, load_settings
from stream.errors import AddlinkError
from stream.observe.health import HealthServer
from stream.transport.kafka_io import TransportError
from stream.observe.logs import configure_json_logging

log = logging.getLogger(__name__)

ROLES = ("all", "ingest", "worker")


def build_stages(
    settings: Settings,
    role: str,
    obs: Observability,
    stop: threading.Event,
    *,
    quiet_period_override_s: int | None = None,
) -> list[Stage]:
    """The subscribed stages of ``role`` (``quiet_period_override_s`` replaces every wiki's quiet period)."""
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
    return stages


def run_stages(stages: Sequence[Stage], stop: threading.Event) -> int:
    """Run every stage in its own thread until ``stop``; 0 if all ended cleanly, 1 if one failed
    (the others are then stopped too)."""
    failed = threading.Event()

    def target(stage: Stage) -> None:
        try:
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


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="run the long-running consumer (ingest and/or worker)")
    parser.add_argument("--config", required=True, type=Path, help="configuration file (YAML or TOML)")
    parser.add_argument("--role", choices=ROLES, default="all", help="which loops to run (default: all)")
    parser.add_argument("--log-level", default="INFO", help="log level (default: INFO)")
    add_create_indices_flag(parser)
    parser.set_defaults(func=main)


def add_create_indices_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--create-indices", action="store_true",
                        help="create missing <wiki>_content indices (local stacks only; CirrusSearch owns them)")


def main(args: argparse.Namespace) -> int:
    configure_json_logging(args.log_level)
    settings = load_settings(args.config)
    return run(settings, role=args.role, create_indices=args.create_indices)
