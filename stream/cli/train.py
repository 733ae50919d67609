"""`addlink train`: train a wiki's link model from a dump, backtest it and publish it if it passes the gate.

Exit codes: 0 published; 3 the release gate refused the model (nothing published; `--force` publishes
anyway and exits 0); 2 unusable input (missing or unreadable dump, no training data).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from scoring.backtest import GATE_MIN_PRECISION, GATE_MIN_RECALL
from scoring.train import TrainingError, TrainReport, train
from stream.cli.evaluate import render
from stream.errors import AddlinkError, GateRejected


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a per-wiki link model from a dump",
        description="Train a wiki's link model from a MediaWiki XML dump (bz2, xz or plain), backtest it on the "
        f"dump's test articles and publish it to MODELS/WIKI if precision >= {GATE_MIN_PRECISION} and recall >= "
        f"{GATE_MIN_RECALL} at the gate threshold.",
    )
    parser.add_argument("--wiki", required=True, help="wiki id, e.g. elwiki")
    parser.add_argument("--dump", required=True, type=Path, help="pages-articles XML dump")
    parser.add_argument("--models", required=True, type=Path, help="models directory (bundle goes to MODELS/WIKI)")
    parser.add_argument("--language", help="content language code (default: the dump's xml:lang)")
    parser.add_argument("--threshold", type=float, default=0.5, help="gate threshold (default 0.5)")
    parser.add_argument(
        "--coverage",
        choices=("auto", "complete", "partial"),
        default="auto",
        help="whether the dump holds every article of the wiki (then red-link targets are dropped); "
        "auto decides from how many links point at the dump's own articles (default auto)",
    )
    parser.add_argument("--force", action="store_true", help="publish even if the release gate fails")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.dump.is_file():
        raise AddlinkError(f"no dump at {args.dump}")
    if round(args.threshold, 1) != args.threshold or not 0.0 <= args.threshold <= 0.9:
        raise AddlinkError(f"--threshold must be one of the backtest thresholds 0.0, 0.1 .. 0.9, got {args.threshold}")
    try:
        report = train(
            args.dump,
            args.models,
            wiki=args.wiki,
            language=args.language,
            threshold=args.threshold,
            force=args.force,
            coverage=args.coverage,
            progress=not args.quiet,
        )
    except (TrainingError, ValueError, OSError, EOFError) as error:
        raise AddlinkError(f"{args.wiki}: {error}") from error
    print(summary(report))
    if report.published is None:
        raise GateRejected(f"{args.wiki} not published: {report.gate.reason}")
    return 0


def summary(report: TrainReport) -> str:
    """Training figures, the whole backtest table, what the gold left out, and the outcome."""
    manifest, gate = report.manifest, report.gate
    training = manifest.training
    lines = [
        f"{manifest.wiki} ({manifest.language}): {training['train_articles']} training / {training['test_articles']} "
        f"test articles, {training['anchors']} anchors, {training['targets']} targets, "
        f"{training['rows']} rows ({training['positives']} positive), "
        f"{'complete dump: red links dropped' if manifest.complete_dump else 'partial dump: every target kept'}",
    ]
    if manifest.backtest is not None:
        lines.append(render(manifest.backtest, None))
        left_out = ", ".join(f"{reason}: {count}" for reason, count in manifest.gold_excluded.items()) or "none"
        lines.append(f"removed links left out of the gold: {left_out}")
    if report.published is not None:
        verb = "published despite the gate (--force)" if gate.forced else "published"
        lines.append(f"gate {'pass' if gate.passed else 'FAIL'} ({gate.reason}); {verb}: {report.published}")
    else:
        lines.append(f"gate FAIL ({gate.reason}); not published")
    return "\n".join(lines)
