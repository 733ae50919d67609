"""`addlink evaluate`: backtest a published bundle on a dump's test articles, in both units.

``--json`` prints the mwaddlink-protocol table (the gate's unit) as ``{"wiki", "articles",
"thresholds", "protocol", "reachable"}`` and the page-level one beside it under ``"page_level"``
(with ``"gold_excluded"``). On the dump the bundle was trained on, the figures equal those stored in
the bundle's manifest (the backtest is deterministic); the text output says whether they do.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from scoring.backtest import backtest
from scoring.bundle import BacktestTable, BundleError, load_bundle
from scoring.shared import with_shared_model
from stream.errors import AddlinkError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="backtest a wiki's model bundle on a dump",
        description="Remove the links of the dump's test articles, let the model restore them, and print micro "
        "precision and recall over (anchor, target) pairs at thresholds 0.0 .. 0.9, in mwaddlink's unit (the "
        "first linked sentence of each article, the release gate's) and over whole articles.",
    )
    parser.add_argument("--wiki", required=True)
    parser.add_argument("--models", required=True, type=Path)
    parser.add_argument("--dump", required=True, type=Path)
    parser.add_argument("--json", action="store_true", help='print {"wiki", "articles", "thresholds": [...], "protocol", "reachable", "page_level": {...}}')
    parser.add_argument("--verify", action="store_true", help="check every artifact's sha256 first")
    parser.add_argument(
        "--shared-model",
        metavar="NAME",
        help="score with the shared model MODELS/_shared/NAME instead of the bundle's model (leave-one-wiki-out)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.dump.is_file():
        raise AddlinkError(f"no dump at {args.dump}")
    try:
        bundle = load_bundle(args.models, args.wiki, verify=args.verify)
        stored = bundle.manifest
        if args.shared_model is not None:
            bundle = with_shared_model(bundle, args.models, args.shared_model)
        tested = backtest(args.dump, bundle, progress=not (args.quiet or args.json))
    except BundleError as error:
        raise AddlinkError(str(error)) from error
    except (ValueError, OSError, EOFError) as error:
        raise AddlinkError(f"{args.dump}: {error}") from error
    if args.json:
        page_level = {**tested.table.model_dump(mode="json"), "gold_excluded": tested.excluded}
        print(json.dumps({**tested.sentences.model_dump(mode="json"), "page_level": page_level}))
    else:
        same_model = stored.dataset_checksums().get("model") == bundle.dataset_checksums.get("model")
        print(render(tested.sentences, stored.backtest_mwaddlink if same_model else None))
        print(render(tested.table, stored.backtest if same_model else None))
        print(excluded_line(tested.excluded))
    return 0


def excluded_line(excluded: dict[str, int]) -> str:
    left_out = ", ".join(f"{reason}: {count}" for reason, count in excluded.items()) or "none"
    return f"removed links left out of the page-level gold: {left_out}"


def render(table: BacktestTable, stored: BacktestTable | None) -> str:
    """The table as text, and whether it equals the one stored in the bundle."""
    reachable = "" if table.reachable is None else f", {table.reachable}/{table.thresholds[0].gold} gold reachable"
    lines = [
        f"{table.wiki} [{table.protocol}]: {table.articles} test articles{reachable}",
        "threshold  precision  recall  predicted   gold",
    ]
    lines += [
        f"{row.threshold:9.1f}  {row.precision:9.3f}  {row.recall:6.3f}  {row.predicted:9d}  {row.gold:5d}"
        for row in table.thresholds
    ]
    if stored is not None:
        same = stored == table
        lines.append("same as the bundle's stored backtest" if same else "DIFFERS from the bundle's stored backtest")
    return "\n".join(lines)
