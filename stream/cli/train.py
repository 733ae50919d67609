"""`addlink train`: train a wiki's link model from a dump, backtest it and publish it if it passes the gate.

Exit codes: 0 published; 3 the release gate refused the model (nothing published; `--force` publishes
anyway and exits 0); 2 unusable input (missing or unreadable dump, no training data).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from scoring.backtest import GATE_MIN_PRECISION, GATE_MIN_RECALL
from scoring.bundle import BundleError
from scoring.titles import read_title_list
from scoring.train import TrainingError, TrainReport, train
from stream.cli.evaluate import excluded_line, render
from stream.config import load_settings
from stream.errors import AddlinkError, GateRejected


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a per-wiki link model from a dump",
        description="Train a wiki's link model from a MediaWiki XML dump (bz2, xz or plain), choosing its "
        "hyper-parameters by cross-validation on the training articles, backtest it on the dump's test articles and "
        f"publish it to MODELS/WIKI if, in mwaddlink's sentence protocol, precision >= {GATE_MIN_PRECISION} and "
        f"recall >= {GATE_MIN_RECALL} at the gate threshold.",
    )
    parser.add_argument("--wiki", required=True, help="wiki id, e.g. elwiki")
    parser.add_argument("--dump", required=True, type=Path, help="pages-articles XML dump")
    parser.add_argument("--models", required=True, type=Path, help="models directory (bundle goes to MODELS/WIKI)")
    parser.add_argument("--language", help="content language code (default: the dump's xml:lang)")
    parser.add_argument(
        "--link-trail",
        metavar="REGEX",
        help="the wiki's link-trail rule when it has its own MediaWiki:Linktrail, as '[a-zäöü]*' or "
        "'/^([a-zäöü]+)(.*)$/sDu' (default: the rule of the language, from MediaWiki's messages)",
    )
    parser.add_argument("--threshold", type=float, default=0.5, help="gate threshold (default 0.5)")
    parser.add_argument(
        "--coverage",
        choices=("auto", "complete", "partial"),
        default="auto",
        help="whether the dump holds every article of the wiki (then red-link targets are dropped); "
        "auto decides from how many links point at the dump's own articles (default auto)",
    )
    excluded = parser.add_mutually_exclusive_group()
    excluded.add_argument("--excluded-targets", type=Path, metavar="FILE",
                          help="titles never to suggest (over-linking control), one per line; '#' starts a comment")
    excluded.add_argument("--config", type=Path,
                          help="take the wiki's excluded targets (excluded_targets, excluded_targets_file) from this "
                          "configuration, as the stream applies them")
    parser.add_argument(
        "--pages-dump",
        type=Path,
        help="a dump of the whole wiki (pages-articles or stub) for the page table, namespace aliases and "
        "disambiguation templates when --dump is only a part of it; red links are then pruned",
    )
    parser.add_argument(
        "--shared-model",
        metavar="NAME",
        help="use the shared model MODELS/_shared/NAME (addlink train-shared) instead of fitting one",
    )
    parser.add_argument("--force", action="store_true", help="publish even if the release gate fails")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for dump in (args.dump, args.pages_dump):
        if dump is not None and not dump.is_file():
            raise AddlinkError(f"no dump at {dump}")
    if round(args.threshold, 1) != args.threshold or not 0.0 <= args.threshold <= 0.9:
        raise AddlinkError(f"--threshold must be one of the backtest thresholds 0.0, 0.1 .. 0.9, got {args.threshold}")
    try:
        report = train(
            args.dump,
            args.models,
            wiki=args.wiki,
            language=args.language,
            link_trail=args.link_trail,
            threshold=args.threshold,
            force=args.force,
            coverage=args.coverage,
            excluded_targets=excluded_targets(args),
            progress=not args.quiet,
            pages_dump=args.pages_dump,
            shared_model=args.shared_model,
        )
    except (TrainingError, BundleError, ValueError, OSError, EOFError) as error:
        raise AddlinkError(f"{args.wiki}: {error}") from error
    print(summary(report))
    if report.published is None:
        raise GateRejected(f"{args.wiki} not published: {report.gate.reason}")
    return 0


def excluded_targets(args: argparse.Namespace) -> tuple[str, ...]:
    """The titles ``--excluded-targets`` lists, or the wiki's excluded targets in ``--config``."""
    if args.config is not None:
        wiki = load_settings(args.config).wikis.get(args.wiki)
        if wiki is None:
            raise AddlinkError(f"{args.config}: no wiki {args.wiki!r}")
        return wiki.excluded_targets
    return read_excluded_targets(args.excluded_targets)


def read_excluded_targets(path: Path | None) -> tuple[str, ...]:
    """The titles of an ``--excluded-targets`` list file (none without one)."""
    if path is None:
        return ()
    try:
        return read_title_list(path)
    except (OSError, UnicodeDecodeError) as error:
        raise AddlinkError(f"--excluded-targets {path}: {error}") from error


def summary(report: TrainReport) -> str:
    """Training figures, the whole backtest table, what the gold left out, and the outcome."""
    manifest, gate = report.manifest, report.gate
    training = manifest.training
    lines = [
        f"{manifest.wiki} ({manifest.language}): {training['train_articles']} training / {training['test_articles']} "
        f"test articles, {training['anchors']} anchors, {training['targets']} targets, "
        f"{training['rows']} rows ({training['positives']} positive), "
        f"{len(manifest.excluded_targets)} excluded targets, "
        f"{'complete dump: red links dropped' if manifest.complete_dump else 'partial dump: every target kept'}",
        f"model: shared {manifest.shared_model.name}" if manifest.shared_model else "model: own, "
        + ", ".join(f"{key} {training[key]}" for key in ("max_depth", "min_child_weight", "rounds", "cv_logloss")
                    if key in training),
    ]
    if manifest.siteinfo is not None:
        site = manifest.siteinfo
        local = site.namespaces.names
        lines.append(
            f"from the dump: {site.pages} main-namespace pages in the page table; categories {', '.join(local.get(14, ()))}; "
            f"templates {', '.join(local.get(10, ()))}; files {', '.join(local.get(6, ()))}; "
            f"disambiguation templates {', '.join(site.disambiguation_templates) or 'none (name them in the settings)'}; "
            f"link trail {site.link_trail}"
        )
    lines += [render(table, None) for table in (manifest.backtest_mwaddlink, manifest.backtest) if table is not None]
    if manifest.backtest is not None:
        lines.append(excluded_line(manifest.gold_excluded))
    if report.published is not None:
        verb = "published despite the gate (--force)" if gate.forced else "published"
        lines.append(f"gate {'pass' if gate.passed else 'FAIL'} ({gate.reason}); {verb}: {report.published}")
    else:
        lines.append(f"gate FAIL ({gate.reason}); not published")
    return "\n".join(lines)
