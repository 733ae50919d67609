"""`addlink score`: score one article's wikitext from stdin."""

from __future__ import annotations

import argparse

from stream.commands._pending import register_pending


def register(subparsers: argparse._SubParsersAction) -> None:
    register_pending(subparsers, "score", "score one article's wikitext from stdin", "scoring issue")
