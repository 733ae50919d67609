"""`addlink train`: train a per-wiki link model from a dump."""

from __future__ import annotations

import argparse

from stream.commands._pending import register_pending


def register(subparsers: argparse._SubParsersAction) -> None:
    register_pending(subparsers, "train", "train a per-wiki link model from a dump", "scoring issue")
