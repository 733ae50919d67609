"""`addlink produce`: publish a dump's article revisions as `mediawiki.page_content_change.v1` events.

Each article (namespace 0, not a redirect, wikitext) becomes one `page/change` 1.x event of kind
`edit` whose `dt` and `revision.rev_dt` are the revision's timestamp, with the wikitext inline at
`revision.content_slots.main.content_body` - what Wikimedia's enrichment job emits - keyed by
`{"wiki_id", "page_id"}` like the real stream. Used for backfills, the README demo and benchmarks:
publish, then `addlink replay` (or a running `addlink run`) processes the events.

Only each page's latest revision is published: the one with the highest revision id over every dump
given (the stream's own notion of "newer"). A pages-articles dump holds one revision per page, so
replaying one dump publishes each article once; replaying several (say last month's and this
month's) in one command publishes, per page, the newest revision only, never an older one that
would be scored, stored and then invalidated. A page whose latest revision is a main-namespace
redirect is published too when an older revision in the given dumps was an article, so that rows
of the article are removed. Pages missing from a newer dump are not taken for deleted (excerpts
and split dumps hold only some pages).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from stream.config import load_settings
from stream.ops.backfill import produce_dump

def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("produce", help="publish a dump's articles as page_content_change events")
    parser.add_argument("--config", required=True, type=Path, help="configuration file (YAML or TOML)")
    parser.add_argument("--wiki", required=True, help="wiki id, e.g. elwiki")
    parser.add_argument("--dump", required=True, type=Path, nargs="+",
                        help="MediaWiki XML dump(s) (bz2, xz or plain); with several, each page's newest revision only")
    parser.add_argument("--rate", type=float, help="events per second (default: as fast as possible)")
    parser.add_argument("--topic", help="topic (default: the first of kafka.source_topics)")
    parser.add_argument("--limit", type=int, help="publish at most this many articles")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    summary = produce_dump(settings, wiki_id=args.wiki, dumps=args.dump, topic=args.topic, rate=args.rate,
                           limit=args.limit, progress=not args.no_progress)
    print(f"produced {summary.events} events (the latest revision of each page) to {summary.topic} "
          f"in {summary.seconds:.1f}s")
    return 0
