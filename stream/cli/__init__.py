"""The `addlink` command: one subcommand per module in `stream.cli`.

Each command module exposes `register(subparsers)`, which adds its parser and sets
`func(args) -> int`. Parsing stays here and in those modules; the work is done by plain
typed functions that tests call directly.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from stream.errors import AddlinkError

COMMAND_MODULES = (
    "train",
    "evaluate",
    "score",
    "bench",
    "run",
    "replay",
    "produce",
    "reconcile",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="addlink",
        description="Stream link recommendations from MediaWiki page changes to MariaDB and Elasticsearch.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"stream.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except AddlinkError as error:
        print(f"addlink {args.command}: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130

