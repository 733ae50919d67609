"""`addlink bench pathological`: what pathological pages cost, in-process and through the worker's
scoring process, built from a wiki's own dump and scored with its own bundle.

Input: the dump's longest article and the first link anchor of it that the bundle knows (the word
the scorer really looks up). Pages, the shapes of tests/unit/test_pathological_wikitext.py:
that word repeated without spaces or as tiny paragraphs to 1 MB, the article repeated to 1 MB and 2 MB,
markup never closed (links, templates, refs, tables, a mix), 10,000 nested templates, 10,000 bare
braces (deeper than the parser can build) and the article repeated past MediaWiki's size limit.

Measured per page: in-process ``parse_article`` seconds and, in a second run under tracemalloc
(which slows Python code), its peak traced memory; then parse and score through
``stream.pipeline.scorers.ProcessScorer`` with the worker's page budget: seconds and the outcome (links,
ScoringTimeout, or the error the worker would send to the error topic). The unit test keeps only
generous safety bounds; these are the figures.
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

from scoring.backtest import remove_links
from scoring.bundle import load_bundle
from scoring.dumps import is_article, iter_pages
from scoring.namespaces import Namespaces
from scoring.recommend import MAX_WIKITEXT_CHARS
from scoring.wikitext import parse_article
from stream.config import load_settings
from stream.config_sections import ScoringSettings
from stream.errors import AddlinkError
from stream.pipeline.scorers import Budget, ProcessScorer, ScoreRequest, ScoringTimeout

MB = 1_000_000
T = TypeVar("T")


def measured(call: Callable[[], T]) -> tuple[T, float, int]:
    """(result, wall seconds, peak traced bytes) of ``call()`` under tracemalloc."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = call()
    finally:
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return result, elapsed, peak


def repeat(unit: str, chars: int) -> str:
    return unit * max(1, chars // len(unit))


def pathological_pages(article: str, word: str) -> dict[str, str]:
    """Page name -> wikitext, made of a real ``article`` and a ``word`` of it."""
    return {
        "spaceless-1MB": repeat(word, MB),
        "tiny-paragraphs-1MB": repeat(word + "\n\n", MB),
        "article-1MB": repeat(article + "\n", MB),
        "article-2MB": repeat(article + "\n", 2 * MB),  # prose at MediaWiki's size limit (2 MiB)
        "unclosed-links-20k": f"[[{word} " * 20_000,
        "unclosed-templates-20k": f"{{{{{word}|" * 20_000,
        "unclosed-refs-20k": f"<ref>{word} " * 20_000,
        "unclosed-tables-20k": f"{{|\n|{word}\n" * 20_000,
        "unclosed-mix-10k": f"[[{word} {{{{{word}|<ref>{word} {{|\n|{word}\n" * 10_000,
        "named-templates-10k-deep": "{{a|" * 10_000 + word + "}}" * 10_000,
        "bare-braces-10k": "{{" * 10_000 + word + "}}" * 10_000,
        "over-size-limit": repeat(article + "\n", MAX_WIKITEXT_CHARS + MB),
    }


@dataclass(frozen=True)
class PageFigures:
    page: str
    chars: int
    parse_s: float | None  # None: refused before parsing (over the size limit)
    parse_peak_mib: float | None
    parse_outcome: str
    process_s: float
    process_outcome: str


def _source(dump: Path, is_anchor: Callable[[str], bool], namespaces: Namespaces) -> tuple[str, str]:
    longest = max((page for page in iter_pages(dump) if is_article(page)), key=lambda page: len(page.text),
                  default=None)
    if longest is None:
        raise AddlinkError(f"{dump}: no article")
    word = next((key for key, _ in remove_links(parse_article(longest.text, namespaces),
                                                 namespace_prefixes=namespaces.prefixes()).pairs
                 if is_anchor(key)), None)
    if word is None:
        raise AddlinkError(f"{dump}: its longest article links no anchor the bundle knows")
    return longest.text, word


def _parse_in_process(text: str) -> tuple[float | None, float | None, str]:
    if len(text) > MAX_WIKITEXT_CHARS:
        return None, None, "refused (over the size limit)"
    started = time.perf_counter()
    parse_article(text)
    seconds = time.perf_counter() - started
    _, _, peak = measured(lambda: parse_article(text))
    return round(seconds, 3), round(peak / 2**20, 1), "parsed"


def _through_process(scorer: ProcessScorer, text: str, request: ScoreRequest, budget_s: float) -> tuple[float, str]:
    started = time.monotonic()
    budget = Budget.start(budget_s)
    try:
        if len(text) > MAX_WIKITEXT_CHARS:
            outcome = "refused (over the size limit)"  # the worker does not parse it (stream/pipeline/worker.py)
        else:
            scorer.parse(request.wiki_id, text, budget)
            outcome = f"{len(scorer.recommend(text, request, budget).links)} links"
    except ScoringTimeout:
        outcome = "ScoringTimeout"
    except Exception as error:  # noqa: BLE001 - reported as the worker would: an error event
        outcome = f"{type(error).__name__} (error event)"
    return round(time.monotonic() - started, 3), outcome


def bench_pathological(dump: Path, models: Path, wiki_id: str, *, budget_s: float) -> list[PageFigures]:
    bundle = load_bundle(models, wiki_id)
    article, word = _source(dump, bundle.anchors.__contains__, bundle.namespaces)
    request = ScoreRequest(wiki_id=wiki_id, title="Pathological", page_id=1, rev_id=1, threshold=0.0,
                           max_links=None, excluded_sections=())
    scorer = ProcessScorer(models)
    try:
        figures = []
        for name, text in pathological_pages(article, word).items():
            parse_s, peak, parse_outcome = _parse_in_process(text)
            process_s, process_outcome = _through_process(scorer, text, request, budget_s)
            figures.append(PageFigures(name, len(text), parse_s, peak, parse_outcome, process_s, process_outcome))
    finally:
        scorer.close()
    return figures


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wiki", required=True)
    parser.add_argument("--models", required=True, type=Path)
    parser.add_argument("--dump", required=True, type=Path, help="the wiki's dump: its longest article is the base")
    parser.add_argument("--config", type=Path, help="take the page budget from scoring.deadline_seconds here")
    parser.add_argument("--budget", type=float, help="page budget in seconds (default: scoring.deadline_seconds)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")


def main(args: argparse.Namespace) -> int:
    if not args.dump.is_file():
        raise AddlinkError(f"no dump at {args.dump}")
    budget = args.budget or (load_settings(args.config).scoring if args.config else ScoringSettings()).deadline_seconds
    figures = bench_pathological(args.dump, args.models, args.wiki, budget_s=budget)
    if args.json:
        print(json.dumps([asdict(f) for f in figures], indent=2))
        return 0
    print(f"pathological pages of {args.wiki} (page budget {budget} s)")
    for f in figures:
        parse = "-" if f.parse_s is None else f"{f.parse_s} s, peak {f.parse_peak_mib} MiB"
        print(f"  {f.page:26} {f.chars:>11,} chars  in-process parse: {parse} ({f.parse_outcome}); "
              f"scoring process: {f.process_s} s, {f.process_outcome}")
    return 0
