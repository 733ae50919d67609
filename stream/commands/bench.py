"""`addlink bench`: benchmark the scorer or the pipeline."""

from __future__ import annotations

import argparse

from stream.commands._pending import register_pending


def register(subparsers: argparse._SubParsersAction) -> None:
    register_pending(subparsers, "bench", "benchmark the scorer or the pipeline", "scoring and streaming issues")
