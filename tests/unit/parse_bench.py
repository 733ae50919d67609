"""Parse benchmark: the native scanner (scoring.wikitext.parse_article) against the mwparserfromhell
oracle (wikitext_oracle.parse_article), on the real articles of a dump::

    .venv/bin/python tests/unit/parse_bench.py DUMP [--limit N] [--title T ...] [--prose-mb 2]

Each article is parsed by each parser once untimed (warm-up), then timed alone on one pinned CPU, in
CPU time (``time.process_time``): on a shared, loaded machine wall time measures the neighbours. Prints ms/article (mean, p50, p99, max and the slowest title) for both, the pages
named by ``--title``, and a prose page of ``--prose-mb`` MB made of the dump's own top-level text
(every article's runs, joined by blank lines until the size is reached: real prose without markup).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import wikitext_oracle
from scoring.dumps import is_article, iter_pages
from scoring.wikitext import ParsedArticle, parse_article

Parser = Callable[[str], ParsedArticle]


def timed(parse: Parser, text: str) -> float:
    started = time.process_time()
    parse(text)
    return (time.process_time() - started) * 1000


def summary(name: str, times: list[float], titles: list[str]) -> str:
    ordered = sorted(times)
    slowest = max(range(len(times)), key=times.__getitem__)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return (
        f"  {name:7} CPU mean {statistics.fmean(times):8.2f} ms  p50 {statistics.median(times):8.2f}  "
        f"p99 {p99:8.2f}  max {ordered[-1]:9.2f} ({titles[slowest]})  "
        f"{1000 * len(times) / sum(times):7.1f} articles/s"
    )


def prose_page(texts: list[str], megabytes: float) -> str:
    size = int(megabytes * 1_000_000)
    pieces: list[str] = []
    length = 0
    while length < size:
        for text in texts:
            for run in parse_article(text).runs:
                pieces.append(run.text.strip())
                length += len(pieces[-1]) + 2
            if length >= size:
                break
    return "\n\n".join(pieces)[:size]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dump", type=Path)
    parser.add_argument("--limit", type=int, help="at most this many articles")
    parser.add_argument("--title", action="append", default=[], help="also time this page alone")
    parser.add_argument("--prose-mb", type=float, default=0.0, help="also time a prose page of this size")
    parser.add_argument("--native-only", action="store_true", help="skip the oracle (slow on big pages)")
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    pages = [(p.title, p.text) for p in iter_pages(args.dump) if is_article(p)][: args.limit]
    titles = [title for title, _ in pages]
    parsers: dict[str, Parser] = {"native": parse_article}
    if not args.native_only:
        parsers["oracle"] = wikitext_oracle.parse_article
    chars = sum(len(text) for _, text in pages)
    print(f"{args.dump.name}: {len(pages)} articles, {chars / 1e6:.1f} M characters, load {os.getloadavg()[0]:.2f}")
    for name, parse in parsers.items():
        for _, text in pages:
            parse(text)
        times = [timed(parse, text) for _, text in pages]
        print(summary(name, times, titles))
    by_title = dict(pages)
    for title in args.title:
        text = by_title[title]
        figures = ", ".join(f"{name} {timed(parse, text):.1f} ms" for name, parse in parsers.items())
        print(f"  page {title!r} ({len(text.encode()) / 1024:.0f} KB): {figures}")
    if args.prose_mb:
        text = prose_page([text for _, text in pages], args.prose_mb)
        figures = ", ".join(f"{name} {timed(parse, text):.1f} ms" for name, parse in parsers.items())
        print(f"  prose page of {len(text.encode()) / 1e6:.1f} MB: {figures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
