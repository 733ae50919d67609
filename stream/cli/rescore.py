"""`addlink rescore`: evaluate again one wiki's recommendations made by an older model.

What is regenerated and what is not is in ``stream.ops.rescore``. The revisions' text comes from the
MediaWiki Action API (``pipeline.fetch_missing_content``, the same client ingest uses for
``page_change.v1`` events): Kafka only keeps a week of article text and MariaDB none.

Output: a summary with a progress bar on stderr, or one JSON object with ``--json``:
``{"wiki", "model", "rows_checked", "current", "rescored", "no_text", "outcomes": {name: n}, "seconds"}``
(outcomes named like GrowthExperiments'). Exit status: 0 done; 2 usage or configuration error, or
a store that cannot be read (every write is idempotent and compare-and-set: simply run again).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from stream.config import load_settings
from stream.observe.logs import configure_json_logging
from stream.ops.rescore import rescore


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("rescore", help="evaluate again the recommendations an older model made")
    parser.add_argument("--config", required=True, type=Path, help="configuration file (YAML or TOML)")
    parser.add_argument("--wiki", required=True, help="an enabled wiki id, e.g. elwiki")
    parser.add_argument("--rate", type=float, help="at most this many pages evaluated per second (default: no limit)")
    parser.add_argument("--limit", type=int, help="stop after this many outdated rows")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--log-level", default="WARNING", help="log level (default: WARNING)")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    configure_json_logging(args.log_level)
    report = rescore(load_settings(args.config), args.wiki, rate=args.rate, limit=args.limit,
                     progress=not args.no_progress)
    print(json.dumps(report.as_json(), ensure_ascii=False) if args.json else report.summary())
    return 0
