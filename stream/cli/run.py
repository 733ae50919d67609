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
from pathlib import Path

from stream.config import load_settings
from stream.observe.logs import configure_json_logging
from stream.pipeline.runner import ROLES, run

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
