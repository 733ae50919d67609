"""`addlink train-shared`: fit one shared model on the pooled training rows of several wikis' bundles.

Exit codes: 0 written; 2 unusable input (a wiki without a bundle or without stored training rows, a
name already taken).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from scoring.bundle import BundleError
from scoring.shared import train_shared
from stream.errors import AddlinkError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train-shared",
        help="fit one link model on the pooled training rows of several wikis",
        description="Pool the training rows stored in the current bundles of WIKIS, choose hyper-parameters by "
        "cross-validation with whole wikis held out, and write the shared model MODELS/_shared/NAME. Bundles "
        "use it with `addlink train --shared-model NAME` (each keeps its own dictionary); `addlink evaluate "
        "--shared-model NAME` backtests a wiki with it.",
    )
    parser.add_argument("--models", required=True, type=Path, help="models directory holding the wikis' bundles")
    parser.add_argument("--name", required=True, help="name of the new shared model (never rewritten)")
    parser.add_argument("--wikis", required=True, help="comma-separated wiki ids whose training rows are pooled")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    wikis = [wiki.strip() for wiki in args.wikis.split(",") if wiki.strip()]
    if not wikis:
        raise AddlinkError("--wikis names no wiki")
    try:
        manifest = train_shared(args.models, args.name, wikis)
    except (BundleError, FileExistsError, ValueError, OSError) as error:
        raise AddlinkError(f"shared model {args.name}: {error}") from error
    tuning = ", ".join(f"{key} {value}" for key, value in manifest.tuning.items())
    print(f"shared model {manifest.name}: {len(manifest.wikis)} wikis ({', '.join(manifest.wikis)}), "
          f"{manifest.rows} rows ({manifest.positives} positive); {tuning}")
    return 0
