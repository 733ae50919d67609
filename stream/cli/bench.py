"""`addlink bench score|stream`: benchmark the scorer alone, or the whole pipeline.

`bench score` needs only a bundle and a dump (scoring/bench.py); `bench stream` runs the real
pipeline against the configured services (stream/bench/pipeline.py).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from scoring.bench import ScoreBench, bench_score
from scoring.bundle import BundleError
from stream.bench import pipeline as bench_pipeline
from stream.errors import AddlinkError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="benchmark the scorer or the pipeline")
    targets = parser.add_subparsers(dest="target", required=True, metavar="TARGET")

    score = targets.add_parser(
        "score",
        help="scorer speed on real articles, one core",
        description="Score every article of a dump with a wiki's bundle on one core and print articles/s, MB/s, "
        "per-article latency percentiles, bundle load time and resident memory.",
    )
    score.add_argument("--wiki", required=True)
    score.add_argument("--models", required=True, type=Path)
    score.add_argument("--dump", required=True, type=Path)
    score.add_argument("--threshold", type=float, default=0.6)
    score.add_argument("--max", type=int, default=10, help="maximum links per article, 0 for no limit (default 10)")
    score.add_argument("--limit", type=int, help="score at most this many articles")
    score.add_argument("--warmup", type=int, default=10, help="untimed articles first (default 10)")
    score.add_argument("--json", action="store_true", help="print the figures and environment as JSON")
    score.set_defaults(func=run_score)

    stream = targets.add_parser("stream", help="pipeline throughput and latency against the local services")
    bench_pipeline.add_arguments(stream)
    stream.set_defaults(func=bench_pipeline.main)


def run_score(args: argparse.Namespace) -> int:
    if not args.dump.is_file():
        raise AddlinkError(f"no dump at {args.dump}")
    try:
        figures = bench_score(
            args.dump,
            args.models,
            args.wiki,
            threshold=args.threshold,
            max_links=args.max or None,
            limit=args.limit,
            warmup=args.warmup,
            progress=not args.json,
        )
    except BundleError as error:
        raise AddlinkError(str(error)) from error
    except (ValueError, OSError, EOFError) as error:
        raise AddlinkError(f"{args.dump}: {error}") from error
    print(json.dumps(figures.as_dict(), indent=2, ensure_ascii=False) if args.json else render(figures))
    return 0


def render(b: ScoreBench) -> str:
    return (
        f"score {b.wiki}: {b.articles} articles, {b.wikitext_mb} MB wikitext in {b.seconds} s on one core\n"
        f"  {b.articles_per_second} articles/s, {b.mb_per_second} MB/s\n"
        f"  latency p50 {b.latency_p50_ms} ms, p90 {b.latency_p90_ms} ms, p99 {b.latency_p99_ms} ms, "
        f"max {b.latency_max_ms} ms ({b.slowest_title})\n"
        f"  bundle load {b.bundle_load_ms} ms (cold {b.bundle_load_cold_ms} ms); resident memory "
        f"{b.rss_before_load_mb} MB before load, {b.rss_after_load_mb} MB after, {b.rss_after_run_mb} MB after the run\n"
        f"  {b.candidates} candidates scored, {b.links} links (threshold {b.threshold}, max {b.max_links}), "
        f"{b.incomplete} cut by the deadline\n"
        f"  per article (mean ms): " + ", ".join(f"{name} {ms}" for name, ms in b.stage_ms.items())
    )
