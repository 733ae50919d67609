"""The `addlink reconcile` job for one wiki: clients built from the settings, the batched walk
(``stream.ops.reconciler``) and the node-exporter textfile gauges of the run (see the CLI module)."""

from __future__ import annotations

import time
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile
from redis.exceptions import RedisError

from sinks.base import SinkError
from sinks.elasticsearch import WeightedTagSink
from sinks.mariadb import RecommendationStore
from stream.config import Settings
from stream.errors import AddlinkError
from stream.ops.drift import Drift, Report
from stream.ops.reconciler import Reconciler
from stream.pipeline.bootstrap import build_state, build_store, build_tag_sink


def build_sinks(settings: Settings) -> tuple[RecommendationStore, WeightedTagSink]:
    """The row store and the tag sink reconcile repairs through: the tag sink compare-and-set on
    the store's fences, as in the pipeline's stages. No failure handler: reconcile raises."""
    store = build_store(settings)
    tags = build_tag_sink(settings, None, store.fences)
    assert isinstance(tags, WeightedTagSink)
    return store, tags


def reconcile(settings: Settings, wiki: str, *, fix: bool = False, batch_size: int = 500,
              grace_s: float | None = None) -> Report:
    """Check (and with ``fix`` repair) one enabled wiki; raises AddlinkError for what a user must fix.

    ``grace_s``: how long a drift seen in a batch must last before it is confirmed (default: two
    commit intervals of the consumer, ``pipeline.commit_interval_s``, its writes in flight).
    """
    if settings.wiki(wiki) is None:
        raise AddlinkError(f"wiki {wiki!r} is not configured and enabled (wikis.{wiki})")
    if settings.tags_mode != "elasticsearch":
        raise AddlinkError("tags_mode is 'events': tags are sent as page_weighted_tags_change events and no "
                           "index is read, so there is nothing to compare rows with; reconcile needs "
                           "tags_mode 'elasticsearch' (read access to the wiki's content index)")
    if batch_size < 1:
        raise AddlinkError("--batch-size must be at least 1")
    if grace_s is None:
        grace_s = 2 * settings.pipeline.commit_interval_s
    if grace_s < 0:
        raise AddlinkError("--grace-seconds must not be negative")
    state = build_state(settings)
    store, tags = build_sinks(settings)
    try:
        return Reconciler(wiki, store, tags, state, fix=fix, batch_size=batch_size, grace_s=grace_s).run()
    except SinkError as error:
        raise AddlinkError(f"{error} (nothing half-done: every repair is idempotent; run again)") from error
    except RedisError as error:
        raise AddlinkError(f"redis at {settings.redis.url}: {error}") from error
    finally:
        store.close()
        tags.close()


def write_metrics(report: Report, path: Path) -> None:
    """The report as gauges in the textfile format (see the module docstring)."""
    registry = CollectorRegistry()
    drift = Gauge("addlink_reconcile_drift", "Pages found drifting in the last reconcile run, by kind",
                  ["wiki", "kind"], registry=registry)
    fixed = Gauge("addlink_reconcile_fixed", "Drifting pages repaired and read back consistent in the last run",
                  ["wiki", "kind"], registry=registry)
    for kind in Drift:
        drift.labels(report.wiki, str(kind)).set(report.found[kind])
        fixed.labels(report.wiki, str(kind)).set(report.fixed[kind])
    Gauge("addlink_reconcile_pages_checked", "Pages with a row or a tag checked in the last run", ["wiki"],
          registry=registry).labels(report.wiki).set(report.pages_checked)
    Gauge("addlink_reconcile_duration_seconds", "Wall time of the last reconcile run", ["wiki"],
          registry=registry).labels(report.wiki).set(report.seconds)
    Gauge("addlink_reconcile_last_run_timestamp_seconds", "When the last reconcile run finished (Unix time)",
          ["wiki"], registry=registry).labels(report.wiki).set(time.time())
    try:
        write_to_textfile(str(path), registry)
    except OSError as error:
        raise AddlinkError(f"cannot write --metrics-file {path}: {error}") from error
