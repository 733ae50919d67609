"""`addlink replay`: replay a backlog topic through the pipeline."""

from __future__ import annotations

import argparse

from stream.commands._pending import register_pending


def register(subparsers: argparse._SubParsersAction) -> None:
    register_pending(subparsers, "replay", "replay a backlog topic through the pipeline", "streaming issue")
