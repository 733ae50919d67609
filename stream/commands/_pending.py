"""Registers a subcommand whose issue has not landed yet: it says so and exits 2."""

from __future__ import annotations

import argparse
import sys


def register_pending(subparsers: argparse._SubParsersAction, name: str, summary: str, issue: str) -> None:
    parser = subparsers.add_parser(name, help=f"{summary} (not implemented yet)")
    parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    def not_implemented(_args: argparse.Namespace) -> int:
        print(f"addlink {name}: not implemented yet ({issue})", file=sys.stderr)
        return 2

    parser.set_defaults(func=not_implemented)
