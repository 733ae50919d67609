"""`addlink run`: run the long-running consumer."""

from __future__ import annotations

import argparse

from stream.commands._pending import register_pending


def register(subparsers: argparse._SubParsersAction) -> None:
    register_pending(subparsers, "run", "run the long-running consumer", "streaming issue")
