"""Real material for synthetic dumps (synthetic.py), harvested from sample dumps in one pass each.

What is kept, all of it bounded by ``MAX_POOL`` items per pool (reservoir-sampled with the seed), so
memory does not depend on the size of the sources:
- sentences of article prose, each cut at its wikilinks into text pieces (the links are re-drawn
  later); a sentence is kept only when its markup is self-contained: no namespace link (file,
  category, interwiki), no HTML tag, balanced ``[[ ]]`` and ``{{ }}`` (so templates inside it stay);
- the leading template block of an article (infobox, hatnotes), cut at its article links the same way;
- list items (lines starting with ``*`` or ``#``), cut at their links the same way;
- section headings and category lines (the category namespace's local name comes from ``<siteinfo>``);
- per article: wikitext length, sentences per paragraph, items per list, number of category lines,
  whether a leading template block is present; and title words (for recombined titles);
- link figures: the share of piped links (``[[target|anchor]]``) and of links to a redirect title,
  and the redirects per article of the source, so the synthetic dump copies them.

Sentence boundaries are any of ``.!?`` and their full-width forms followed by space, or a
full-width terminator; this is Unicode punctuation, not a per-language table.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from scoring.dumps import DumpPage, SiteInfo, is_article, iter_pages, read_siteinfo, siteinfo_xml
from scoring.namespaces import Namespaces
from scoring.titles import is_article_link, namespace_prefix, normalise_title

__all__ = ["MAX_POOL", "Material", "harvest"]

MAX_POOL = 200_000
_MAX_LEAD_TEMPLATE = 8000  # characters; longer blocks (huge navboxes) would dominate the output
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_REF = re.compile(r"<ref[^>]*/>|<ref[^>]*>.*?</ref>", re.S | re.I)
# An innermost wikilink: [[target]] or [[target|anchor]] with no brackets inside.
LINK = re.compile(r"\[\[([^\[\]|]*)(?:\|([^\[\]]*))?\]\]")
_HEADING = re.compile(r"^(=+)\s*([^=].*?)\s*\1\s*$")
_SENTENCE = re.compile(r".*?(?:[.!?](?:\s+|$)|[。！？]\s*|$)", re.S)
_TITLE_WORD_BANNED = set("[]{}|#<>:_/\\\"&=%+*~?!.,;()«»“”\u200e\u200f")


@dataclass
class Material:
    """Everything synthetic.py recombines; pools hold text pieces between links."""

    header: str  # the first source's "<mediawiki ...><siteinfo>...</siteinfo>", verbatim
    site: SiteInfo
    redirect_word: str = "#REDIRECT"  # the most frequent magic word of the source redirects
    spaced_boundaries: int = 0  # sentence ends followed by whitespace inside a line ...
    tight_boundaries: int = 0  # ... or directly by the next sentence (full-width terminators)
    sentences: list[tuple[str, ...]] = field(default_factory=list)
    lead_templates: list[tuple[str, ...]] = field(default_factory=list)
    headings: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    list_items: list[tuple[str, ...]] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)  # wikitext characters per article
    paragraph_sizes: list[int] = field(default_factory=list)  # sentences per paragraph
    list_sizes: list[int] = field(default_factory=list)  # items per list
    category_counts: list[int] = field(default_factory=list)  # category lines per article
    title_words: list[str] = field(default_factory=list)  # distinct by first-letter-uppercased form
    articles: int = 0
    redirects: int = 0
    lead_template_articles: int = 0
    paragraphs: int = 0
    heading_lines: int = 0
    lists: int = 0
    links: int = 0
    piped_links: int = 0
    redirect_links: int = 0

    @property
    def redirects_per_article(self) -> float:
        return self.redirects / max(self.articles, 1)

    @property
    def sentence_joiner(self) -> str:
        """What separates two sentences in the source: a space, or nothing (as after "。")."""
        return " " if self.spaced_boundaries >= self.tight_boundaries else ""

    @property
    def piped_share(self) -> float:
        return self.piped_links / max(self.links, 1)

    @property
    def redirect_link_share(self) -> float:
        return self.redirect_links / max(self.links, 1)

    @property
    def lead_template_share(self) -> float:
        return self.lead_template_articles / max(self.articles, 1)

    @property
    def heading_share(self) -> float:
        """Headings per paragraph."""
        return self.heading_lines / max(self.paragraphs, 1)

    @property
    def list_share(self) -> float:
        """Lists per paragraph."""
        return self.lists / max(self.paragraphs, 1)


class _Reservoir:
    """Algorithm R: a uniform sample of at most ``size`` items of a stream, deterministic for the rng."""

    def __init__(self, target: list, size: int, rng: random.Random) -> None:
        self.items, self.size, self.rng, self.seen = target, size, rng, 0

    def add(self, item: object) -> None:
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(item)
        elif (slot := self.rng.randrange(self.seen)) < self.size:
            self.items[slot] = item


def _balanced(text: str) -> bool:
    return text.count("{{") == text.count("}}") and "[[" not in text and "]]" not in text and "<" not in text


def _cut_links(text: str, is_link: Callable[[str], bool], on_link: Callable[[str, bool], None]) -> tuple[str, ...] | None:
    """Split ``text`` at its article links; None when a namespace link or unbalanced markup is left."""
    pieces, last = [], 0
    for match in LINK.finditer(text):
        if not is_link(match.group(1)):
            return None
        on_link(match.group(1), match.group(2) is not None)
        pieces.append(text[last:match.start()])
        last = match.end()
    pieces.append(text[last:])
    return tuple(pieces) if all(_balanced(p) for p in pieces) else None


def _sentences(line: str) -> Iterator[str]:
    """Sentences of a prose line (with what followed them), joined again where a boundary fell inside
    a link or template."""
    pending = ""
    for match in _SENTENCE.finditer(line):
        pending += match.group(0)
        if pending and pending.count("[[") == pending.count("]]") and pending.count("{{") == pending.count("}}"):
            yield pending
            pending = ""
    if pending:
        yield pending


def _lead_template(text: str) -> tuple[str, str]:
    """(leading balanced ``{{...}}`` blocks, the rest); ("", text) when the article starts otherwise."""
    stripped = text.lstrip()
    depth, i, end = 0, 0, 0
    while stripped.startswith("{{", end):
        i = end
        while i < len(stripped):
            if stripped.startswith("{{", i):
                depth, i = depth + 1, i + 2
            elif stripped.startswith("}}", i):
                depth, i = depth - 1, i + 2
                if depth == 0:
                    break
            else:
                i += 1
        if depth:
            return "", text
        end = len(stripped) - len(stripped[i:].lstrip())
    return stripped[:end].rstrip(), stripped[end:]


class _Harvester:
    def __init__(self, material: Material, seed: int) -> None:
        self.m = material
        rng = random.Random(seed)
        self.pools = {name: _Reservoir(getattr(material, name), MAX_POOL, rng) for name in (
            "sentences", "lead_templates", "headings", "categories", "lengths", "paragraph_sizes", "category_counts",
            "list_items", "list_sizes")}
        self.words: dict[str, str] = {}
        self.link_targets: Counter[str] = Counter()
        self.redirect_titles: set[str] = set()
        self.redirect_words: Counter[str] = Counter()

    def page(self, page: DumpPage, site: SiteInfo) -> None:
        if page.namespace != 0:
            return
        if page.redirect is not None:
            self.m.redirects += 1
            self.redirect_titles.add(normalise_title(page.title))
            self.redirect_words[page.text.split("[[", 1)[0].strip()] += 1
            return
        if not is_article(page):
            return
        self.m.articles += 1
        for word in page.title.split():
            if not (_TITLE_WORD_BANNED & set(word)) and not word.isdigit():
                self.words.setdefault(word[:1].upper() + word[1:], word)
        self._text(page.text, site)

    def _text(self, text: str, site: SiteInfo) -> None:
        prefixes = Namespaces.build(site.namespaces).prefixes()
        category = {namespace_prefix(n + ":") for n in ("Category", site.namespaces.get(14, "Category"))}
        is_link = lambda target: is_article_link(target, prefixes)  # noqa: E731
        length, text = len(text), _REF.sub("", _COMMENT.sub("", text))
        lead, body = _lead_template(text)
        if lead:
            self.m.lead_template_articles += 1
            if len(lead) <= _MAX_LEAD_TEMPLATE and (pieces := _cut_links(lead, is_link, lambda *_: None)):
                self.pools["lead_templates"].add(pieces)
        categories = items = 0
        for raw in body.splitlines() + [""]:
            line = raw.strip()
            if line[:1] in ("*", "#"):
                items += 1
                if pieces := _cut_links(line, is_link, self._link):
                    self.pools["list_items"].add(pieces)
                continue
            if items:
                self.m.lists += 1
                self.pools["list_sizes"].add(items)
                items = 0
            if not line:
                continue
            if heading := _HEADING.match(line):
                self.m.heading_lines += 1
                if _balanced(heading.group(0)) and "{{" not in line:
                    self.pools["headings"].add(line)
                continue
            if line.startswith("[[") and namespace_prefix(line[2:]) in category:
                categories += 1
                self.pools["categories"].add(line)
                continue
            if line[0] in "{|!*#:;<=}" or (line.startswith("[[") and not is_link(line[2:].split("|")[0])):
                continue
            self.m.paragraphs += 1
            kept = 0
            sentences = list(_sentences(line))
            for sentence in sentences[:-1]:
                if sentence[-1].isspace():
                    self.m.spaced_boundaries += 1
                else:
                    self.m.tight_boundaries += 1
            for sentence in sentences:
                if pieces := _cut_links(sentence.strip(), is_link, self._link):
                    self.pools["sentences"].add(pieces)
                    kept += 1
            if kept:
                self.pools["paragraph_sizes"].add(kept)
        self.pools["lengths"].add(length)
        self.pools["category_counts"].add(categories)

    def _link(self, target: str, piped: bool) -> None:
        self.m.links += 1
        self.m.piped_links += piped
        self.link_targets[normalise_title(target)] += 1

    def finish(self) -> Material:
        self.m.redirect_links = sum(n for t, n in self.link_targets.items() if t in self.redirect_titles)
        self.m.title_words = sorted(self.words.values())
        if self.redirect_words:
            self.m.redirect_word = self.redirect_words.most_common(1)[0][0] or self.m.redirect_word
        return self.m


def harvest(sources: Iterable[str | Path], seed: int = 0) -> Material:
    """Read every source dump once. The header and ``<siteinfo>`` come from the first source.
    Raises ValueError when the sources give no usable sentence or title word."""
    sources = list(sources)
    if not sources:
        raise ValueError("no source dump")
    material = Material(header=siteinfo_xml(sources[0]).decode("utf-8"), site=read_siteinfo(sources[0]))
    harvester = _Harvester(material, seed)
    for source in sources:
        site = read_siteinfo(source)
        for page in iter_pages(source):
            harvester.page(page, site)
    material = harvester.finish()
    if not material.sentences or not material.title_words or not material.lengths:
        raise ValueError(f"{sources}: no article prose with links to recombine")
    return material
