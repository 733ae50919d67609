"""`addlink replay`: a bounded run of the same pipeline over a stretch of the source topics.

1. For each source topic partition, the start offset is the first record at or after `--from`
   (`earliest`: the oldest retained) and the end offset the first record at or after `--until`
   (`end`: the end of the partition when replay starts). Times are Kafka record timestamps, as in
   Wikimedia's bounded backfills, found with ``offsets_for_times``.
2. Ingest reads exactly that range (its own consumer group, ``<ingest_group_id>.replay``, so a
   running `addlink run` keeps its position) and forwards work items to the work topic.
3. A worker joins the work topic's consumer group (sharing it with any running `addlink run`) and
   replay finishes once the group has committed every work item up to the end of the work topic
   as it was when ingest finished.

The quiet period is the configured one unless `--quiet-period SECONDS` overrides it for every
wiki (the README demo uses 0). Items not yet due are waited for, so replaying the last day with
the default quiet period lasts until those revisions are a day old. Progress bars show what is
left of the source range and of the work topic; the summary counts outcomes by GrowthExperiments'
names, and the wall time in seconds. `--workers N` runs N worker stages in the process (a backfill on
a machine with cores to spare; N `addlink run --role worker` processes share the work the same way).
Exit status 0 when done, 1 if a loop failed, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path

from stream.cli.run import add_create_indices_flag
from stream.config import load_settings
from stream.errors import AddlinkError
from stream.observe.logs import configure_json_logging
from stream.ops.replay import parse_bound, replay
from stream.pipeline.runner import install_signal_handlers

def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("replay", help="replay a time range of the source topics through the pipeline")
    parser.add_argument("--config", required=True, type=Path, help="configuration file (YAML or TOML)")
    parser.add_argument("--from", dest="since", required=True, metavar="earliest|TIME",
                        help="first record time (ISO 8601) or 'earliest'")
    parser.add_argument("--until", default="end", metavar="end|TIME",
                        help="stop before records from this time (ISO 8601); default 'end' (as of now)")
    parser.add_argument("--quiet-period", type=int, metavar="SECONDS",
                        help="override minimum_time_since_last_edit of every wiki (0: score at once)")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker stages in this process, each with its own scoring process (default 1)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--log-level", default="WARNING", help="log level (default: WARNING)")
    add_create_indices_flag(parser)
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    configure_json_logging(args.log_level)
    settings = load_settings(args.config)
    since, until = parse_bound(args.since, "earliest"), parse_bound(args.until, "end")
    if args.quiet_period is not None and args.quiet_period < 0:
        raise AddlinkError("--quiet-period must be >= 0")
    stop = threading.Event()
    install_signal_handlers(stop, settings.pipeline.shutdown_timeout_s)
    if args.workers < 1:
        raise AddlinkError("--workers must be >= 1")
    started = time.monotonic()
    status, summary = replay(settings, since=since, until=until, quiet_period_s=args.quiet_period,
                             progress=not args.no_progress, stop=stop, create_indices=args.create_indices,
                             workers=args.workers)
    seconds = round(time.monotonic() - started, 2)
    if args.json:
        print(json.dumps({"status": status, "seconds": seconds, **summary}, indent=2, sort_keys=True))
    else:
        print(f"{'seconds':14} {seconds}")
        for group, counts in summary.items():
            line = ", ".join(f"{name} {count}" for name, count in counts.items()) or "-"
            print(f"{group:14} {line}")
    return status
