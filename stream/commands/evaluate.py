"""`addlink evaluate`: backtest a model bundle on a dump."""

from __future__ import annotations

import argparse

from stream.commands._pending import register_pending


def register(subparsers: argparse._SubParsersAction) -> None:
    register_pending(subparsers, "evaluate", "backtest a model bundle on a dump", "scoring issue")
