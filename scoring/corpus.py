"""Training statistics from a dump, in two streaming passes (used by train.py).

Pass 1 (``LinkCounts.read_dump``) reads the dump once: redirects, article titles, disambiguation
pages, and for every training article its links (all article links, templates included, as mwaddlink counts them) and the
document frequencies for relatedness; each training article's wikitext with its top-level links
turned into text is spooled to a temporary file, so the dump is parsed only once.

Pass 2 (``ContextCounts.read_spool``) reads the spool back and, now that the redirects and the
candidate anchors are known (the keys linked more than once, and every title's own text, see
``LinkCounts.title_targets``), counts per anchor its plain-text occurrences (for link probability),
per (anchor, target) the number of source articles, per target its linking articles and context
vector, and keeps a compact ``ArticleSample`` of up to ``max_samples`` articles for the training rows.

Memory holds the dictionaries being built and the samples (bounded), never the dump.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
from tqdm import tqdm

from scoring.anchors import is_number_anchor
from scoring.backtest import remove_links
from scoring.dumps import MalformedPage, is_article, iter_pages, split_of
from scoring.linktrail import LinkTrail
from scoring.mentions import find_mentions
from scoring.native import AnchorIndex, build_anchor_index
from scoring.relatedness import DocumentFrequencies, TargetContexts, Vectoriser
from scoring.sentence_unit import first_linked_sentence, text_only_within
from scoring.site_scan import DISAMBIGUATION_MAGIC_WORD
from scoring.titles import is_article_target, normalise_anchor, normalise_title
from scoring.tokenize import anchor_hits
from scoring.wikitext import ParsedArticle, parse_article

__all__ = ["ArticleSample", "ContextCounts", "LinkCounts", "spool_file"]

# Samples of the first pages of a dump link 1-15 % of the time to their own articles; a complete wiki
# (ltgwiki) about 40 %.
COMPLETE_DUMP_SHARE = 0.3
LINKED_TITLE_ARTICLES = 2
def _article_links(article: ParsedArticle, prefixes: frozenset[str]) -> Iterator[tuple[str, str, bool]]:
    """(anchor key, target title, top level) of every article link with a usable anchor."""
    for link in article.links:
        if link.anchor and is_article_target(link.target, prefixes):
            key = normalise_anchor(link.text)  # with its link trail: "[[bus]]es" is the anchor "buses"
            if key and not is_number_anchor(key):
                yield key, link.target, link.top_level


@dataclass
class LinkCounts:
    """Pass 1 results."""

    language: str
    prefixes: frozenset[str]
    trail: LinkTrail
    disambiguation_templates: frozenset[str] = frozenset()  # normalised names (site_scan), no prefix
    listed: frozenset[str] = frozenset()  # article titles of the page table (pass 0: the whole wiki with --pages-dump)
    redirects: dict[str, str] = field(default_factory=dict)  # ns-0 redirect title -> target title
    articles: set[str] = field(default_factory=set)  # titles of ns-0 articles (any split)
    disambiguation: set[str] = field(default_factory=set)  # titles of the articles that are disambiguation pages
    aslink: Counter[str] = field(default_factory=Counter)  # link occurrences per anchor key
    df: DocumentFrequencies = field(default_factory=DocumentFrequencies)
    pages: int = 0
    train_articles: int = 0
    test_articles: int = 0
    malformed: int = 0

    def resolve(self, title: str) -> str:
        """One redirect hop, as mwaddlink."""
        return self.redirects.get(title, title)

    def title_targets(self, complete: bool, linked: Iterable[str] = ()) -> dict[str, dict[str, bool]]:
        """Every title as a candidate for its own text: ``{anchor key: {target title: via a redirect}}``
        from each article title (of the dump and of the page table), each title in ``linked`` (link
        targets that tell a partial dump's reader the title exists) and each redirect title of the dump
        (resolved one hop; on a ``complete`` dump only onto an article). Number-only keys and
        disambiguation pages as targets are left out, as mwaddlink leaves them out of its dictionary
        (a title outside the dump cannot be told a disambiguation page: it is kept); ``via a
        redirect`` is True when some redirect with that key's text points to the target."""
        found: dict[str, dict[str, bool]] = {}
        for title in (self.articles | self.listed | set(linked)) - self.disambiguation:
            self._add_title(found, title, title, redirect=False)
        for title, target in self.redirects.items():
            if target not in self.disambiguation and (not complete or target in self.articles or target in self.listed):
                self._add_title(found, title, target, redirect=True)
        return found

    @staticmethod
    def _add_title(found: dict[str, dict[str, bool]], title: str, target: str, *, redirect: bool) -> None:
        key = normalise_anchor(title)
        if key and not is_number_anchor(key):
            targets = found.setdefault(key, {})
            targets[target] = targets.get(target, False) or redirect

    def _sentence(self, article: ParsedArticle) -> tuple[int, int, list[tuple[str, str]]] | None:
        """The article's first linked sentence as mwaddlink's backtest takes it (sentence_unit.py): its
        span in the wikitext with every top-level link turned into text (the spooled text), and its
        (anchor key, target) pairs."""
        sentence = first_linked_sentence(article, language=self.language, namespace_prefixes=self.prefixes)
        if sentence is None:
            return None
        prefixes, text = self.prefixes, article.wikitext
        within = remove_links(article, namespace_prefixes=prefixes, within=(sentence.start, sentence.end))
        # The spooled text has every link before the sentence's end turned into text, its own included.
        before_end = len(text) - len(remove_links(article, namespace_prefixes=prefixes, within=(0, sentence.end)).wikitext)
        before_start = before_end - (len(text) - len(within.wikitext))
        return sentence.start - before_start, sentence.end - before_end, sorted(within.pairs)

    def read_dump(self, dump: Path, spool: IO[str], progress: bool, samples: int | None = None) -> None:
        """Pass 1. ``samples``: how many training articles pass 2 keeps as samples (the first ones): only
        those need their first linked sentence, which costs about as much as the parse."""
        def malformed(error: MalformedPage) -> None:
            self.malformed += 1
            tqdm.write(f"skipping {error}", file=sys.stderr)

        pages = iter_pages(dump, on_error=malformed)
        for page in tqdm(pages, desc="pass 1/2 read dump", unit=" pages", disable=not progress, mininterval=1):
            self.pages += 1
            if page.namespace != 0:
                continue
            title = normalise_title(page.title)
            if page.redirect is not None:
                self.redirects[title] = page.redirect
                continue
            if not is_article(page):
                continue
            self.articles.add(title)
            test = split_of(page.page_id) == "test"
            # A test article is parsed only to tell whether it is a disambiguation page.
            article = None if test and not self.disambiguation_templates else parse_article(page.text, link_trail=self.trail)
            if DISAMBIGUATION_MAGIC_WORD in page.text or (
                article is not None and not self.disambiguation_templates.isdisjoint(article.templates)
            ):
                self.disambiguation.add(title)
            if test:
                self.test_articles += 1
                continue
            self.train_articles += 1
            assert article is not None
            links = list(_article_links(article, self.prefixes))
            self.aslink.update(key for key, _, _ in links)
            unlinked = remove_links(article, namespace_prefixes=self.prefixes)
            self.df.add(unlinked.wikitext)
            sentence = self._sentence(article) if samples is None or self.train_articles <= samples else None
            record = {"title": title, "text": unlinked.wikitext, "links": links, "sentence": sentence}
            spool.write(json.dumps(record, ensure_ascii=False) + "\n")


def _mostly_internal(links: LinkCounts, spool: IO[str]) -> bool:
    """True when at least ``COMPLETE_DUMP_SHARE`` of the training articles' link occurrences point at
    articles of the dump (then it holds the whole wiki)."""
    spool.seek(0)
    occurrences = internal = 0
    for line in spool:
        for _, target, _ in json.loads(line)["links"]:
            occurrences += 1
            internal += links.resolve(target) in links.articles
    return occurrences > 0 and internal / occurrences >= COMPLETE_DUMP_SHARE


@dataclass(frozen=True)
class ArticleSample:
    """What the training rows of one article need; target ids index ``ContextCounts.titles``."""

    title_key: str
    own_target: int  # -1 when the article's title is not a target
    length: int  # characters of the (unlinked) wikitext
    mentions: tuple[tuple[str, int, bool], ...]  # (key, wikitext offset, first char uppercase), discovery order
    occurrences: dict[str, int]  # plain-text occurrences of candidate keys in this article
    link_keys: dict[str, int]  # this article's link occurrences per key (its share of aslink)
    top_keys: dict[str, int]  # the same for top-level links
    pairs: dict[str, frozenset[int]]  # key -> targets it links with that anchor, anywhere
    linked: frozenset[int]  # targets it links, anywhere
    gold: frozenset[tuple[str, int]]  # (key, target) of its top-level links
    existing_anchors: str  # NUL-joined anchor keys of the links left after unlinking (templates etc.)
    existing_targets: frozenset[int]
    vector: np.ndarray
    # mwaddlink's backtest unit on this training article (sentence_unit.py), for the operating point:
    sentence_mentions: tuple[tuple[str, int, bool], ...]  # as ``mentions``, found in its first linked sentence only
    sentence_gold: frozenset[tuple[str, int]]  # that sentence's links (key, target), as the backtest's gold
    sentence_unknown: int  # more of its links, to targets the dictionary lacks (partial dumps): never findable


@dataclass
class ContextCounts:
    """Pass 2 results over the candidate anchors (keys linked more than once, and titles' own text)."""

    links: LinkCounts
    candidates: frozenset[str]
    titled: dict[str, frozenset[int]]  # key -> targets it is a candidate for as their title or redirect title
    redirected: dict[str, frozenset[int]]  # key -> targets a redirect with that text points to
    candidate_keys: list[str]  # sorted; the position of a key is its value in ``candidate_index``
    candidate_index: AnchorIndex
    titles: list[str]  # target id -> title (sorted, so ids are deterministic)
    target_ids: dict[str, int]
    complete: bool  # red-link targets were dropped (see ``prepare``)
    astext: Counter[str] = field(default_factory=Counter)
    pair_articles: Counter[tuple[str, int]] = field(default_factory=Counter)
    samples: list[ArticleSample] = field(default_factory=list)

    @classmethod
    def prepare(cls, links: LinkCounts, spool: IO[str], coverage: str = "auto") -> ContextCounts:
        """Candidate anchors and the target universe, from pass 1 and the spooled link lists.

        ``coverage``: "complete" (the dump holds every article: targets that are not articles of it are
        red links and are dropped, as mwaddlink keeps only targets in ``pageids``), "partial" (a sample:
        every target title is kept) or "auto" (complete when at least ``COMPLETE_DUMP_SHARE`` of the
        training articles' link occurrences point at articles of the dump)."""
        if coverage not in ("auto", "complete", "partial"):
            raise ValueError(f"coverage must be auto, complete or partial, not {coverage!r}")
        complete = coverage == "complete" or (coverage == "auto" and _mostly_internal(links, spool))
        linking: Counter[str] = Counter()  # partial dump: training articles linking each target
        if not complete:
            spool.seek(0)
            for line in spool:
                linking.update({links.resolve(target) for _, target, _ in json.loads(line)["links"]})
        # A target linked from two training articles is a title the wiki has (a title candidate stays
        # one whatever the training rows leave out); a complete dump knows its titles without this.
        titles = links.title_targets(complete, [t for t, n in linking.items() if n >= LINKED_TITLE_ARTICLES])
        candidates = frozenset(k for k, n in links.aslink.items() if n > 1) | titles.keys()
        spool.seek(0)
        universe: set[str] = set()
        for line in spool:
            universe.update(links.resolve(target) for key, target, _ in json.loads(line)["links"] if key in candidates)
        if complete:
            universe &= links.articles | links.listed
        for targets in titles.values():
            universe.update(targets)
        ordered = sorted(universe)
        ids = {t: i for i, t in enumerate(ordered)}
        keys = sorted(candidates)
        return cls(
            links=links,
            candidates=candidates,
            titled={key: frozenset(ids[t] for t in targets) for key, targets in titles.items()},
            redirected={
                key: redirected
                for key, targets in titles.items()
                if (redirected := frozenset(ids[t] for t, via in targets.items() if via))
            },
            candidate_keys=keys,
            candidate_index=build_anchor_index(keys),
            titles=ordered,
            target_ids=ids,
            complete=complete,
        )

    def read_spool(self, spool: IO[str], max_samples: int, progress: bool) -> TargetContexts:
        """Pass 2; returns the summed context vectors of every target."""
        links = self.links
        vectoriser = Vectoriser(links.df.idf())
        contexts = TargetContexts(len(self.titles))
        self.target_articles = np.zeros(len(self.titles), dtype=np.int64)
        spool.seek(0)
        records = tqdm(spool, desc="pass 2/2 count contexts", unit=" articles", total=links.train_articles,
                       disable=not progress, mininterval=1)
        for line in records:
            record = json.loads(line)
            article = parse_article(record["text"], link_trail=links.trail)
            sample = self._count_article(record, article, vectoriser)
            own = [sample.own_target] if sample.own_target >= 0 else []
            contexts.add(np.array(sorted(sample.linked) + own, dtype=np.int64), sample.vector)
            if len(self.samples) < max_samples:
                self.samples.append(sample)
        return contexts

    def _count_article(self, record: dict, article: ParsedArticle, vectoriser: Vectoriser) -> ArticleSample:
        links, ids = self.links, self.target_ids
        language = links.language
        all_links = [(k, t, top) for k, t, top in record["links"]]
        link_keys = Counter(k for k, _, _ in all_links)
        top_keys = Counter(k for k, _, top in all_links if top)
        pairs = {
            (k, ids[r]) for k, t, _ in all_links if k in self.candidates and (r := links.resolve(t)) in ids
        }
        self.pair_articles.update(pairs)
        by_key: dict[str, set[int]] = {}
        for key, target in pairs:
            by_key.setdefault(key, set()).add(target)
        linked = frozenset(ids[r] for _, t, _ in all_links if (r := links.resolve(t)) in ids)
        self.target_articles[sorted(linked)] += 1
        occurrences: Counter[str] = Counter()
        keys = self.candidate_keys
        for run in article.runs:
            for _, _, _, value in anchor_hits(run.text, language, self.candidate_index):
                occurrences[keys[value]] += 1
        for key, count in occurrences.items():
            self.astext[key] += max(count - top_keys[key], 0)
        title = record["title"]
        mentions = self._mentions(article, title)
        remaining = [(k, t) for k, t, top in all_links if not top]
        sentence_mentions, sentence_gold, sentence_unknown = self._sentence_sample(record, article)
        return ArticleSample(
            title_key=normalise_anchor(title),
            own_target=ids.get(links.resolve(title), -1),
            length=max(len(record["text"]), 1),
            mentions=mentions,
            occurrences={k: occurrences[k] for k, _, _ in mentions if k in occurrences},
            link_keys=dict(link_keys),
            top_keys=dict(top_keys),
            pairs={key: frozenset(targets) for key, targets in by_key.items()},
            linked=linked,
            gold=frozenset((k, ids[r]) for k, t, top in all_links if top and (r := links.resolve(t)) in ids),
            existing_anchors="\0".join(k for k, _ in remaining),
            existing_targets=frozenset(ids[r] for _, t in remaining if (r := links.resolve(t)) in ids),
            vector=vectoriser.page_vector(record["text"]),
            sentence_mentions=sentence_mentions,
            sentence_gold=sentence_gold,
            sentence_unknown=sentence_unknown,
        )

    def _mentions(self, article: ParsedArticle, title: str) -> tuple[tuple[str, int, bool], ...]:
        """(key, wikitext offset, first char uppercase) of the mentions the scorer would consider."""
        return tuple(
            (m.key, m.wikitext_offset, m.text[:1].isupper())
            for m in find_mentions(article, language=self.links.language, title=title, excluded_sections=(),
                                   anchors=self.candidate_index)
        )

    def _sentence_sample(
        self, record: dict, article: ParsedArticle
    ) -> tuple[tuple[tuple[str, int, bool], ...], frozenset[tuple[str, int]], int]:
        """Mentions of the spooled article's first linked sentence, its gold pairs, and its links whose
        target has no id (on a complete dump those are red links, which the backtest leaves out too)."""
        if not record.get("sentence"):
            return (), frozenset(), 0
        start, end, pairs = record["sentence"]
        mentions = self._mentions(text_only_within(article, start, end), record["title"])
        ids = self.target_ids
        gold = {(key, ids[r]) for key, target in pairs if (r := self.links.resolve(target)) in ids}
        unknown = 0 if self.complete else sum(self.links.resolve(target) not in ids for _, target in pairs)
        return mentions, frozenset(gold), unknown


def spool_file() -> IO[str]:
    """A temporary text file for pass 1 output, deleted when closed."""
    return tempfile.TemporaryFile("w+", encoding="utf-8", prefix="addlink-train-")

