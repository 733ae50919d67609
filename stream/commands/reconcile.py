"""`addlink reconcile`: compare and repair MariaDB rows against Elasticsearch tags."""

from __future__ import annotations

import argparse

from stream.commands._pending import register_pending


def register(subparsers: argparse._SubParsersAction) -> None:
    register_pending(subparsers, "reconcile", "compare and repair MariaDB rows against Elasticsearch tags", "reliability issue")
