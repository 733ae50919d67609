"""Backtest and release gate, in two units: whole articles, and mwaddlink's sentences (§4.7).

Page-level unit: for every test article of a dump (``dumps.split_of``): remove its top-level article
links (each becomes its visible text), ask the scorer to restore them, and compare (anchor key,
target) pairs: micro precision = sum TP / sum predicted, micro recall = sum TP / sum gold, at
thresholds 0.0, 0.1, ..., 0.9 (selection runs once per threshold, since what is accepted early
changes what may follow). Links inside templates, references or captions stay in the page, as in a
real edit. Gold = the removed links that the product's rules allow to be suggested at all
(``gold_pairs``): left out are links whose target is linked elsewhere on the page or is the page
itself, whose anchor lies inside the title or inside an anchor linked elsewhere (mwaddlink §2.5),
whose anchor is only a number (never in the dictionary), whose anchor text occurs nowhere on the
page as a mention the rules allow (only glued into longer words, as "[[Link]]s1" — a character the
link-trail rule does not take —, or over five tokens; a trailed link counts with its rendered text,
"[[bus]]es" as "buses"), and, for a complete dump, red links (mwaddlink keeps only targets that are pages). What was
left out is counted and reported with the table (``Backtest.excluded``, the manifest's
``gold_excluded``). Articles without any gold link are skipped.

mwaddlink unit (the release gate's, because Wikimedia's bar P >= 0.75, R >= 0.20 was set on it):
each test article's first linked sentence (sentence_unit.py), its links removed and every one of
them gold (red links excepted on a complete dump, as mwaddlink's ``getLinks`` keeps only pages),
micro precision and recall over (anchor, target) pairs. Only that sentence's links are removed
and mentions are looked for in the sentence alone, but the page-level features (position in the
page, relatedness to the page text) read the whole page (``sentence_unit.text_only_within``): the
sentence keeps its real page context. The rules are mwaddlink's for a sentence given alone: only
the title blocks an anchor or target, not the links elsewhere on the page (with them, 29–39 % of
the reachable gold of el, uk and vi was unreachable by rule, a handicap mwaddlink's own backtest
does not have).

Both tables count ``reachable``: gold pairs whose anchor is in the dictionary with the target among
its top 10 candidates, the ceiling on recall.

Guarantees: deterministic — no deadline applies and no randomness is involved, so ``addlink evaluate``
on the same dump and bundle reproduces the numbers stored in the bundle exactly. Precision is 0.0
when nothing was predicted, recall 0.0 when there was nothing to find.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from tqdm import tqdm

from scoring.anchors import is_number_anchor
from scoring.bundle import PROTOCOL_MWADDLINK, PROTOCOL_PAGE, BacktestRow, BacktestTable, Bundle, GateResult
from scoring.dumps import DumpPage, MalformedPage, is_article, iter_pages, split_of
from scoring.features import MAX_CANDIDATES
from scoring.mentions import find_mentions
from scoring.native import build_anchor_index
from scoring.recommend import ScoredPage, excluded_target_ids, page_blocks, score_page, select
from scoring.sentence_unit import first_linked_sentence, text_only_within
from scoring.titles import is_article_target, normalise_anchor, normalise_title
from scoring.wikitext import ParsedArticle, parse_article

__all__ = [
    "GATE_MIN_PRECISION",
    "GATE_MIN_RECALL",
    "THRESHOLDS",
    "Backtest",
    "DumpTitles",
    "Unlinked",
    "backtest",
    "backtest_pages",
    "gate",
    "gold_pairs",
    "reachable",
    "remove_links",
    "test_articles",
]

THRESHOLDS = tuple(round(0.1 * i, 1) for i in range(10))
GATE_MIN_PRECISION = 0.75
GATE_MIN_RECALL = 0.20


@dataclass(frozen=True)
class Unlinked:
    """An article with its top-level article links replaced by their text, and those links as
    (anchor key, normalised target title) pairs, targets not yet redirect-resolved."""

    wikitext: str
    pairs: frozenset[tuple[str, str]]


def remove_links(
    article: ParsedArticle, *, namespace_prefixes: Collection[str], within: tuple[int, int] | None = None
) -> Unlinked:
    """Replace each top-level article link with a non-empty anchor by its rendered text (anchor, markup
    stripped, and link trail); with ``within`` = (start, end), only the links that start in that span of
    the wikitext."""
    pieces: list[str] = []
    pairs: set[tuple[str, str]] = set()
    position = 0
    text = article.wikitext
    for link in sorted(article.links, key=lambda link: link.start):
        if within is not None and not within[0] <= link.start < within[1]:
            continue  # first: the namespace check below costs far more
        if not (link.top_level and link.anchor and is_article_target(link.target, namespace_prefixes)):
            continue
        pieces.append(text[position : link.start])
        pieces.append(link.text)
        pairs.add((normalise_anchor(link.text), link.target))
        position = link.trail_end
    pieces.append(text[position:])
    return Unlinked("".join(pieces), frozenset(pairs))


@dataclass(frozen=True)
class DumpTitles:
    """Titles of a dump's main namespace: articles, and redirects (one hop) onto anything."""

    articles: frozenset[str]
    redirects: dict[str, str]

    @classmethod
    def read(cls, dump: str | Path) -> DumpTitles:
        articles: set[str] = set()
        redirects: dict[str, str] = {}
        for page in iter_pages(dump, on_error=lambda _error: None):
            if page.namespace == 0 and page.redirect is not None:
                redirects[normalise_title(page.title)] = page.redirect
            elif is_article(page):
                articles.add(normalise_title(page.title))
        return cls(frozenset(articles), redirects)

    def exists(self, title: str) -> bool:
        return self.redirects.get(title, title) in self.articles


def gold_pairs(
    unlinked: Unlinked,
    article: ParsedArticle,
    title: str,
    bundle: Bundle,
    existing: DumpTitles | None,
    excluded_targets: frozenset[int] = frozenset(),
) -> tuple[set[tuple[str, str]], Counter[str]]:
    """(gold pairs with targets resolved one redirect hop, counts of removed pairs left out by reason);
    ``article`` is the parsed ``unlinked.wikitext``; ``existing`` is given for a complete dump;
    links to ``excluded_targets`` (ids) are left out: the scorer never suggests them."""
    blocks = page_blocks(article, title, bundle)
    keys = build_anchor_index(sorted({key for key, _ in unlinked.pairs}))
    findable = {
        m.key
        for m in find_mentions(article, language=bundle.language, title=title, excluded_sections=(), anchors=keys)
    }
    gold: set[tuple[str, str]] = set()
    excluded: Counter[str] = Counter()
    for key, target in sorted(unlinked.pairs):
        target_id = bundle.targets.id_of(target)
        if existing is not None and not existing.exists(target):
            excluded["red link"] += 1
        elif target_id in excluded_targets:
            excluded["excluded target (over-linking control)"] += 1
        elif target_id in blocks.targets:
            excluded["target linked elsewhere on the page, or the page itself"] += 1
        elif blocks.blocks_key(key):
            excluded["anchor inside the title or another linked anchor"] += 1
        elif is_number_anchor(key):
            excluded["number-only anchor"] += 1
        elif key not in findable:
            excluded["anchor text never a standalone mention (inside longer words, over 5 tokens)"] += 1
        else:
            gold.add((key, _resolved(bundle, target)))
    return gold, excluded


def _resolved(bundle: Bundle, target: str) -> str:
    """The dictionary's title for ``target`` (one redirect hop), or ``target`` when it has none."""
    target_id = bundle.targets.id_of(target)
    return bundle.targets.title(target_id) if target_id >= 0 else target


def reachable(gold: Iterable[tuple[str, str]], bundle: Bundle) -> int:
    """How many gold pairs the dictionary can produce: anchor known, target among its top candidates."""
    count = 0
    for key, target in gold:
        candidates = bundle.anchors.candidates(key) or {}
        top = sorted(candidates, key=lambda t: -candidates[t])[:MAX_CANDIDATES]
        count += bundle.targets.id_of(target) in top
    return count


class _Tally:
    """Micro counts of one unit across thresholds."""

    def __init__(self, thresholds: tuple[float, ...], protocol: str) -> None:
        self.thresholds, self.protocol = thresholds, protocol
        self.true_positives = dict.fromkeys(thresholds, 0)
        self.predicted = dict.fromkeys(thresholds, 0)
        self.gold = self.reachable = self.units = 0

    def add(self, gold: set[tuple[str, str]], predicted: dict[float, set[tuple[str, str]]], reachable: int) -> None:
        self.units += 1
        self.gold += len(gold)
        self.reachable += reachable
        for threshold, pairs in predicted.items():
            self.predicted[threshold] += len(pairs)
            self.true_positives[threshold] += len(pairs & gold)

    def table(self, wiki: str) -> BacktestTable:
        rows = tuple(
            BacktestRow(
                threshold=t,
                precision=self.true_positives[t] / self.predicted[t] if self.predicted[t] else 0.0,
                recall=self.true_positives[t] / self.gold if self.gold else 0.0,
                predicted=self.predicted[t],
                gold=self.gold,
            )
            for t in self.thresholds
        )
        return BacktestTable(wiki=wiki, articles=self.units, thresholds=rows, protocol=self.protocol,
                             reachable=self.reachable)


def _predicted(
    scored: ScoredPage, bundle: Bundle, thresholds: tuple[float, ...], excluded_targets: frozenset[int]
) -> dict[float, set[tuple[str, str]]]:
    """Selected (anchor key, target) pairs per threshold (never an excluded target)."""
    return {
        threshold: {
            (normalise_anchor(link.link_text), link.link_target)
            for link in select(scored, bundle, threshold=threshold, max_links=None, excluded=excluded_targets)
        }
        for threshold in thresholds
    }


@dataclass(frozen=True)
class Backtest:
    table: BacktestTable  # page-level unit
    excluded: dict[str, int]  # removed links left out of the page-level gold, by reason
    sentences: BacktestTable  # mwaddlink's unit, the gate's


def test_articles(dump: str | Path, on_error: Callable[[MalformedPage], None] | None = None) -> Iterable[DumpPage]:
    """The dump's articles in the test split, in dump order."""
    return (p for p in iter_pages(dump, on_error=on_error) if is_article(p) and split_of(p.page_id) == "test")


def backtest_pages(
    pages: Iterable[DumpPage],
    bundle: Bundle,
    thresholds: Iterable[float] = THRESHOLDS,
    existing: DumpTitles | None = None,
) -> Backtest:
    """Backtest ``bundle`` on ``pages`` (already restricted to test articles) in both units; ``existing``
    makes red links leave the gold (bundles trained on a complete dump)."""
    thresholds = tuple(thresholds)
    pages_tally, sentences_tally = _Tally(thresholds, PROTOCOL_PAGE), _Tally(thresholds, PROTOCOL_MWADDLINK)
    excluded: Counter[str] = Counter()
    excluded_targets = excluded_target_ids(bundle)
    namespaces, prefixes, trail = bundle.namespaces, bundle.namespace_prefixes, bundle.link_trail
    for page in pages:
        title = normalise_title(page.title)
        parsed = parse_article(page.text, namespaces, trail)
        unlinked = remove_links(parsed, namespace_prefixes=prefixes)
        article = parse_article(unlinked.wikitext, namespaces, trail)
        gold, left_out = gold_pairs(unlinked, article, title, bundle, existing, excluded_targets)
        excluded += left_out
        if gold:
            scored = score_page(article, title=title, bundle=bundle, deadline_s=None)
            pages_tally.add(gold, _predicted(scored, bundle, thresholds, excluded_targets), reachable(gold, bundle))
        sentence = first_linked_sentence(parsed, language=bundle.language, namespace_prefixes=prefixes)
        if sentence is None:
            continue
        within = (sentence.start, sentence.end)
        delinked = remove_links(parsed, namespace_prefixes=prefixes, within=within)
        gold = {
            (key, _resolved(bundle, target))
            for key, target in delinked.pairs
            if (existing is None or existing.exists(target)) and bundle.targets.id_of(target) not in excluded_targets
        }
        if gold:
            end = sentence.end - (len(parsed.wikitext) - len(delinked.wikitext))
            article = text_only_within(parse_article(delinked.wikitext, namespaces, trail), sentence.start, end)
            # mwaddlink scores the sentence alone: the page's other links block no anchor or target there
            alone = page_blocks(replace(article, links=()), title, bundle)
            scored = score_page(article, title=title, bundle=bundle, deadline_s=None, blocks=alone)
            sentences_tally.add(gold, _predicted(scored, bundle, thresholds, excluded_targets), reachable(gold, bundle))
    return Backtest(pages_tally.table(bundle.wiki), dict(sorted(excluded.items())), sentences_tally.table(bundle.wiki))


def backtest(
    dump: str | Path, bundle: Bundle, thresholds: Iterable[float] = THRESHOLDS, *, progress: bool = False
) -> Backtest:
    """Backtest ``bundle`` on the test articles of ``dump`` (reading the dump's titles first when the
    bundle was trained on a complete dump, to tell red links)."""
    existing = DumpTitles.read(dump) if bundle.manifest.complete_dump else None
    pages = tqdm(test_articles(dump), desc="backtest", unit=" articles", disable=not progress, mininterval=1)
    return backtest_pages(pages, bundle, thresholds, existing)


def gate(
    table: BacktestTable,
    threshold: float,
    *,
    min_precision: float = GATE_MIN_PRECISION,
    min_recall: float = GATE_MIN_RECALL,
    forced: bool = False,
) -> GateResult:
    """The release gate: precision >= ``min_precision`` and recall >= ``min_recall`` at ``threshold``."""
    row = table.at(threshold)
    failures = []
    if row.precision < min_precision:
        failures.append(f"precision {row.precision:.3f} < {min_precision}")
    if row.recall < min_recall:
        failures.append(f"recall {row.recall:.3f} < {min_recall}")
    reason = (
        f"at threshold {threshold}: " + (" and ".join(failures) if failures else "precision and recall pass")
        + f" ({table.protocol}: {table.articles} test articles, {row.gold} gold links, {row.predicted} predicted)"
    )
    return GateResult(
        threshold=threshold,
        min_precision=min_precision,
        min_recall=min_recall,
        precision=row.precision,
        recall=row.recall,
        passed=not failures,
        forced=forced and bool(failures),
        reason=reason,
    )
