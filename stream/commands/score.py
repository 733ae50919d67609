"""`addlink score`: recommend links for one revision whose wikitext is read from stdin.

Prints the `gelr_data` JSON GrowthExperiments stores (escaped as PHP's json_encode writes it). When
the deadline cuts the page short, the links found so far are printed and a warning goes to stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scoring.bundle import BundleError, load_bundle
from scoring.recommend import DEFAULT_DEADLINE_S, ArticleTooLarge, recommend
from scoring.titles import normalise_title
from stream.errors import AddlinkError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "score",
        help="recommend links for wikitext read from stdin",
        description="Read an article's wikitext from stdin and print its link recommendations as GrowthExperiments' "
        "gelr_data JSON.",
    )
    parser.add_argument("--wiki", required=True)
    parser.add_argument("--models", required=True, type=Path)
    parser.add_argument("--title", required=True, help="page title (normalised like MediaWiki)")
    parser.add_argument("--revid", required=True, type=int)
    parser.add_argument("--pageid", required=True, type=int)
    parser.add_argument("--threshold", type=float, default=0.6, help="minimum link score (default 0.6)")
    parser.add_argument("--max", type=int, default=10, help="maximum links, 0 for no limit (default 10)")
    parser.add_argument(
        "--exclude-section", action="append", default=[], metavar="S",
        help="heading whose section is skipped (case-folded exact match; %%LEAD%% for the lead); repeatable",
    )
    parser.add_argument("--deadline", type=float, default=DEFAULT_DEADLINE_S, help="seconds per page (default 5)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.max < 0:
        raise AddlinkError(f"--max must be 0 (no limit) or more, got {args.max}")
    if args.deadline <= 0:
        raise AddlinkError(f"--deadline must be positive, got {args.deadline}")
    try:
        wikitext = sys.stdin.buffer.read().decode("utf-8")
    except UnicodeDecodeError as error:
        raise AddlinkError(f"stdin is not UTF-8: {error}") from error
    try:
        bundle = load_bundle(args.models, args.wiki)
        result = recommend(
            wikitext,
            title=normalise_title(args.title),
            page_id=args.pageid,
            rev_id=args.revid,
            bundle=bundle,
            threshold=args.threshold,
            max_links=args.max or None,
            excluded_sections=args.exclude_section,
            deadline_s=args.deadline,
        )
    except (BundleError, ArticleTooLarge, ValueError) as error:
        raise AddlinkError(str(error)) from error
    if not result.complete:
        print(f"warning: deadline of {args.deadline} s passed; links from the part scored", file=sys.stderr)
    print(result.gelr.to_json())
    return 0
