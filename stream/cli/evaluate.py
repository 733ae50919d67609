"""`addlink evaluate`: backtest a published bundle on a dump's test articles.

On the dump the bundle was trained on, the figures equal those stored in the bundle's manifest
(the backtest is deterministic); the text output says whether they do.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from scoring.backtest import backtest
from scoring.bundle import BacktestTable, BundleError, load_bundle
from stream.errors import AddlinkError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="backtest a wiki's model bundle on a dump",
        description="Remove the links of the dump's test articles, let the model restore them, and print micro "
        "precision and recall over (anchor, target) pairs at thresholds 0.0 .. 0.9.",
    )
    parser.add_argument("--wiki", required=True)
    parser.add_argument("--models", required=True, type=Path)
    parser.add_argument("--dump", required=True, type=Path)
    parser.add_argument("--json", action="store_true", help='print {"wiki", "articles", "thresholds": [...]}')
    parser.add_argument("--verify", action="store_true", help="check every artifact's sha256 first")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.dump.is_file():
        raise AddlinkError(f"no dump at {args.dump}")
    try:
        bundle = load_bundle(args.models, args.wiki, verify=args.verify)
        tested = backtest(args.dump, bundle, progress=not (args.quiet or args.json))
    except BundleError as error:
        raise AddlinkError(str(error)) from error
    except (ValueError, OSError, EOFError) as error:
        raise AddlinkError(f"{args.dump}: {error}") from error
    if args.json:
        print(tested.table.model_dump_json())
    else:
        print(render(tested.table, bundle.manifest.backtest))
        left_out = ", ".join(f"{reason}: {count}" for reason, count in tested.excluded.items()) or "none"
        print(f"removed links left out of the gold: {left_out}")
    return 0


def render(table: BacktestTable, stored: BacktestTable | None) -> str:
    """The table as text, and whether it equals the one stored in the bundle."""
    lines = [f"{table.wiki}: {table.articles} test articles", "threshold  precision  recall  predicted   gold"]
    lines += [
        f"{row.threshold:9.1f}  {row.precision:9.3f}  {row.recall:6.3f}  {row.predicted:9d}  {row.gold:5d}"
        for row in table.thresholds
    ]
    if stored is not None:
        same = stored == table
        lines.append("same as the bundle's stored backtest" if same else "DIFFERS from the bundle's stored backtest")
    return "\n".join(lines)
