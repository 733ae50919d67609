"""`addlink reconcile`: find, count and (with --fix) repair drift between MariaDB rows, Elasticsearch
tags and the latest revisions the stream knows, for one enabled wiki.

Drift kinds and repairs are defined in ``stream.ops.drift``; how the stores are walked, why it is safe
while `addlink run` is running, and which races remain, in ``stream.ops.reconciler``.

Output: a summary table on stdout, or one JSON object with ``--json``:
``{"wiki", "fix", "pages_checked", "drift": {kind: n}, "fixed": {kind: n}, "remaining": {kind: n},
"resolved_meanwhile", "samples": {kind: [page ids, at most 10]}, "seconds"}``.

Exit status: 0 no drift remains (none found, or all fixed with ``--fix``); 1 drift remains; 2 usage or
configuration error, ``tags_mode: events`` (there is no index to compare with), or a store that
cannot be read (the message names it; every repair is idempotent, so simply run again).

Prometheus (``--metrics-file``, node-exporter textfile format, written atomically; reconcile is a batch
job, so these are gauges describing the last run, like GrowthExperiments' daily
``link_recommendation_dangling_entries{type, wiki, fix_word=fixed|fixable}``):

    addlink_reconcile_drift{wiki,kind}                  pages found drifting, per kind
    addlink_reconcile_fixed{wiki,kind}                  of those, pages repaired and read back consistent
    addlink_reconcile_pages_checked{wiki}               pages with a row or a tag that were checked
    addlink_reconcile_duration_seconds{wiki}            wall time of the run
    addlink_reconcile_last_run_timestamp_seconds{wiki}  when it finished (alert when too old)

Use one file per wiki (e.g. ``addlink_reconcile_elwiki.prom``): each run replaces the whole file.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile
from redis.exceptions import RedisError

from sinks.base import SinkError
from sinks.elasticsearch import WeightedTagSink
from stream.pipeline.bootstrap import build_state, build_store, build_tag_sink
from stream.config import Settings, load_settings
from stream.errors import AddlinkError
from stream.observe.logs import configure_json_logging
from stream.ops.drift import Drift, Report
from stream.ops.reconciler import Reconciler


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
    store = build_store(settings)
    tags = build_tag_sink(settings, None)
    assert isinstance(tags, WeightedTagSink)
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


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("reconcile", help="compare and repair MariaDB rows against Elasticsearch tags")
    parser.add_argument("--config", required=True, type=Path, help="configuration file (YAML or TOML)")
    parser.add_argument("--wiki", required=True, help="an enabled wiki id, e.g. elwiki")
    parser.add_argument("--fix", action="store_true", help="repair what is found (default: report only)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    parser.add_argument("--batch-size", type=int, default=500, help="pages per read batch (default: 500)")
    parser.add_argument("--grace-seconds", type=float, dest="grace_s",
                        help="confirm a drift only once it lasted this long (default: 2 x pipeline.commit_interval_s)")
    parser.add_argument("--metrics-file", type=Path, help="write Prometheus gauges here (textfile collector)")
    parser.add_argument("--log-level", default="WARNING", help="log level; INFO logs every repair (default: WARNING)")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    configure_json_logging(args.log_level)
    report = reconcile(load_settings(args.config), args.wiki, fix=args.fix, batch_size=args.batch_size,
                       grace_s=args.grace_s)
    if args.metrics_file is not None:
        write_metrics(report, args.metrics_file)
    print(json.dumps(report.as_json(), ensure_ascii=False) if args.json else report.summary())
    return report.exit_code
