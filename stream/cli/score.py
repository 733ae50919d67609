"""`addlink score`: recommend links for one revision whose wikitext is read from stdin.

Prints the `gelr_data` JSON GrowthExperiments stores (escaped as PHP's json_encode writes it). The page
is parsed and scored in a child process, as in `addlink run` (stream/pipeline/scorers.py), so --deadline is a
hard bound: when the scorer's own deadline cuts the page short, the links found so far are printed and
a warning goes to stderr; when even that does not end in time, the command fails naming the deadline.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scoring.bundle import BundleError, load_bundle
from scoring.recommend import DEFAULT_DEADLINE_S, MAX_WIKITEXT_CHARS
from scoring.titles import normalise_title
from stream.errors import AddlinkError
from stream.pipeline.scorers import Budget, ProcessScorer, ScoreRequest, ScoringFailed, ScoringTimeout


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
    if len(wikitext) > MAX_WIKITEXT_CHARS:
        raise AddlinkError(f"wikitext of {len(wikitext):,} characters exceeds MediaWiki's {MAX_WIKITEXT_CHARS:,}")
    try:
        load_bundle(args.models, args.wiki)  # a missing or broken bundle is named before a process starts
    except BundleError as error:
        raise AddlinkError(str(error)) from error
    request = ScoreRequest(wiki_id=args.wiki, title=normalise_title(args.title), page_id=args.pageid,
                           rev_id=args.revid, threshold=args.threshold, max_links=args.max or None,
                           excluded_sections=tuple(args.exclude_section))
    scorer = ProcessScorer(args.models)
    try:
        result = scorer.recommend(wikitext, request, Budget.start(args.deadline))
    except (ScoringTimeout, ScoringFailed, ValueError) as error:  # ValueError: too deep, too large
        raise AddlinkError(str(error)) from error
    finally:
        scorer.close()
    if not result.complete:
        print(f"warning: deadline of {args.deadline} s passed; links from the part scored", file=sys.stderr)
    print(result.gelr.to_json())
    return 0
