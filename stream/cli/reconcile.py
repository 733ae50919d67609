"""`addlink reconcile`: find, count and (with --fix) repair drift between MariaDB rows, Elasticsearch
tags and the latest revisions the stream knows, for one enabled wiki.

Drift kinds and repairs are decided by ``stream.core.page_core.assess``; how the stores are walked, why
it is safe while `addlink run` is running, and which races remain, in ``stream.ops.reconciler``.

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
from pathlib import Path

from stream.config import load_settings
from stream.observe.logs import configure_json_logging
from stream.ops.reconcile import reconcile, write_metrics


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
