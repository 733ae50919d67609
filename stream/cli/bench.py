"""`addlink bench score|pages|stream|backfill|pathological|synth-dump|train|models`: benchmark the scorer
alone, the page table, the whole pipeline, a whole-dump backfill, pathological pages, training, or the
models' quality across wikis.

`bench score` needs only a bundle and a dump (scoring/bench.py); `bench pages` only a dump
(scoring/bench_pages.py); `bench stream` runs the real pipeline against the configured services
(stream/bench/pipeline.py); `bench backfill` runs `addlink produce` then `addlink replay` on whole
dumps against them and checks rows against tags (stream/bench/backfill.py); `bench pathological` times
pages built to be hard from a wiki's own dump (stream/bench/pathological.py); `bench synth-dump` writes
a synthetic dump of any size from sample dumps (scoring/synthetic.py), `bench train` measures
`addlink train` on a dump (stream/bench/train.py) and `bench models` prints the per-wiki model table
(stream/bench/models.py).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from scoring.bench import ScoreBench, bench_score
from scoring.bench_pages import ENWIKI_TITLES, bench_pages
from scoring.bundle import BundleError
from stream.bench import pathological as bench_pathological
from scoring.synthetic import ZIPF_EXPONENT, SyntheticWiki, write_dump
from scoring.synthetic_material import harvest
from stream.bench import backfill as bench_backfill
from stream.bench import models as bench_models
from stream.bench import pipeline as bench_pipeline
from stream.bench import train as bench_train
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

    pages = targets.add_parser(
        "pages",
        help="page table size and lookup speed on a dump's titles",
        description="Build the bundle's page table from a dump's main-namespace titles and print its size per title, "
        "open time and lookup latency, and the size the format takes for --scale-to titles.",
    )
    pages.add_argument("--dump", required=True, type=Path)
    pages.add_argument("--scale-to", type=int, default=ENWIKI_TITLES, help=f"titles to project to (default {ENWIKI_TITLES})")
    pages.set_defaults(func=run_pages)

    stream = targets.add_parser("stream", help="pipeline throughput and latency against the local services")
    bench_pipeline.add_arguments(stream)
    stream.set_defaults(func=bench_pipeline.main)

    backfill = targets.add_parser(
        "backfill",
        help="articles/s of a whole-dump backfill (produce, then replay) against the local services",
        description="Publish the dumps' articles as `addlink produce` does, replay them with `addlink replay` "
        "(quiet period 0, --workers worker stages) until drained, then count the rows holding a recommendation "
        "and the documents tagged recommendation.link/exists; print articles/s of the replay, of produce + replay "
        "and after start-up (time to the first scored article). Exit status 1 when rows and tags differ. For the "
        "local stack only: every run creates its own topics, consumer groups, Redis keys, database and index "
        "(empty at the start) and drops them at the end.",
    )
    bench_backfill.add_arguments(backfill)
    backfill.set_defaults(func=bench_backfill.main)

    pathological = targets.add_parser(
        "pathological", help="time and memory of pathological pages made of a wiki's dump, in-process and "
        "through the scoring process")
    bench_pathological.add_arguments(pathological)
    pathological.set_defaults(func=bench_pathological.main)

    synth = targets.add_parser(
        "synth-dump",
        help="write a synthetic dump of N articles recombined from sample dumps",
        description="Write a MediaWiki XML dump of N articles (plus redirects) recombining real sentences, links, "
        "templates, headings and categories of the source dumps, with power-law link popularity "
        "(see scoring/synthetic.py). Constant memory in N; bz2 when OUT ends in .bz2.",
    )
    synth.add_argument("--articles", required=True, type=int, help="number of articles N")
    synth.add_argument("--source", required=True, type=Path, action="append", help="sample dump (repeatable)")
    synth.add_argument("--out", required=True, type=Path, help="output dump (.xml or .xml.bz2)")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--zipf", type=float, default=ZIPF_EXPONENT,
                       help=f"power-law exponent of target popularity by rank (default {ZIPF_EXPONENT})")
    synth.add_argument("--redirects-per-article", type=float,
                       help="mean redirects per article (default: the sources' ratio; enwiki is about 1.4)")
    synth.set_defaults(func=run_synth_dump)

    train = targets.add_parser(
        "train",
        help="articles/s, peak RSS, bundle size and load time of `addlink train`",
        description="Run `addlink train --force` on a dump in a child process and print articles/s of the dump "
        "pass and overall, wall time, the child's peak RSS, the bundle's size per artifact, its load time and "
        "the resident memory of opened bundles.",
    )
    bench_train.add_arguments(train)
    train.set_defaults(func=bench_train.main)

    models = targets.add_parser(
        "models",
        help="the per-wiki model table: own, shared and leave-one-wiki-out models, both backtest units",
        description="Train every dump's own model, a shared model on all of them and one leave-one-wiki-out "
        "shared model per wiki, and print precision, recall and reachable gold at a threshold in mwaddlink's "
        "protocol and the page-level unit (stream/bench/models.py).",
    )
    bench_models.add_arguments(models)
    models.set_defaults(func=bench_models.main)


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


def run_pages(args: argparse.Namespace) -> int:
    if not args.dump.is_file():
        raise AddlinkError(f"no dump at {args.dump}")
    print(json.dumps(bench_pages(args.dump, scale_to=args.scale_to).as_dict(), indent=2))
    return 0


def run_synth_dump(args: argparse.Namespace) -> int:
    missing = [str(p) for p in args.source if not p.is_file()]
    if missing:
        raise AddlinkError(f"no dump at {', '.join(missing)}")
    try:
        material = harvest(args.source, seed=args.seed)
        wiki = SyntheticWiki(material, args.articles, seed=args.seed, zipf_exponent=args.zipf,
                             redirects_per_article=args.redirects_per_article)
        articles, redirects = write_dump(wiki, args.out)
    except (ValueError, OSError, EOFError) as error:
        raise AddlinkError(str(error)) from error
    print(f"{args.out}: {articles} articles, {redirects} redirects ({len(material.sentences)} sentences, "
          f"{len(material.title_words)} title words from {material.articles} source articles)")
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
