"""`addlink produce`: publish a dump's revisions as page_content_change events."""

from __future__ import annotations

import argparse

from stream.commands._pending import register_pending


def register(subparsers: argparse._SubParsersAction) -> None:
    register_pending(subparsers, "produce", "publish a dump's revisions as page_content_change events", "streaming issue")
