"""Parse an article's wikitext once (mwparserfromhell) into what scoring needs, with exact offsets.

Guarantees (offsets are Python string indices, i.e. Unicode code points, into the input):
- ``runs``: the top-level Text nodes (mwaddlink v2's candidate text: not templates, links, refs,
  tables, bold/italic, headings, comments, entities, other tags), adjacent Text nodes merged, in page
  order. ``wikitext[run.start:run.start + len(run.text)] == run.text`` always: offsets come from walking
  the node tree, not from ``str.find`` (mwaddlink's defect, reference §2.8). ``run.section`` is the
  stripped source of the nearest preceding top-level heading of any level (None for the lead), so
  excluding a section never excludes its sub-sections.
- ``links``: every wikilink anywhere — inside templates (also nested), refs, tags, file captions, and
  the captions of ``<gallery>``/``<imagemap>`` (re-parsed, since mwparserfromhell keeps those verbatim);
  not inside comments or ``<nowiki>``. ``wikitext[link.start:link.end] == "[[...]]"`` source.
- ``templates`` / ``categories``: normalised names, de-duplicated, in first-seen order.

Bounded: mwparserfromhell caps nesting at depth 100 (deeper markup stays text); broken markup that would
make it quadratic is neutralised first (``scoring.markup_guard``, offsets unchanged). The walk recurses
only as deep as the parse tree.
"""

from __future__ import annotations

import html
import html.entities
from collections.abc import Collection
from dataclasses import dataclass

import mwparserfromhell
from addlink_native.scan import Scanner
from mwparserfromhell.definitions import INVISIBLE_TAGS
from mwparserfromhell.nodes import (
    Comment,
    Heading,
    HTMLEntity,
    Node,
    Tag,
    Template,
    Text,
    Wikilink,
)
from mwparserfromhell.wikicode import Wikicode

from scoring.markup_guard import RETRY_BUDGET, chunk_bounds, neutralise, restore
from scoring.node_offsets import children, tag_children
from scoring.titles import is_article_link, namespace_prefix, normalise_title

__all__ = [
    "EditorSpan",
    "LinkedSpan",
    "Link",
    "ParsedArticle",
    "PlainText",
    "TextRun",
    "WikitextTooDeep",
    "parse_article",
    "scan_article",
    "plain_text_with_links",
]


@dataclass(frozen=True)
class Link:
    """A wikilink. ``target`` is normalised (fragment dropped); ``anchor`` is the visible text: the
    label with markup stripped, or the title exactly as written. ``top_level`` is True for links that
    are direct children of the page (not inside a template, tag or other link)."""

    target: str
    anchor: str
    start: int
    end: int
    top_level: bool


@dataclass(frozen=True)
class TextRun:
    """A run of top-level text. ``glued_before``/``glued_after``: the neighbouring markup may render
    text directly against this run's edge (a link with its trail, a template, bold, an inline tag), so
    a word touching that edge may be part of a longer rendered word."""

    start: int
    text: str
    section: str | None
    glued_before: bool = False
    glued_after: bool = False

    @property
    def end(self) -> int:
        return self.start + len(self.text)


@dataclass(frozen=True)
class EditorSpan:
    """Text that GrowthExperiments' VisualEditor plugin searches when it locates a suggestion: a run
    of Text nodes at top level or inside HTML tags it descends into (span, div, small, sup, ...; not
    b/i, headings, tables, blockquote, refs or other extension tags). ``after_link``: the span starts
    right after a wikilink's "]]", so its first letters may be that link's trail (inside the link)."""

    start: int
    end: int
    after_link: bool


@dataclass(frozen=True)
class ParsedArticle:
    wikitext: str
    links: tuple[Link, ...]
    runs: tuple[TextRun, ...]
    templates: tuple[str, ...]
    categories: tuple[str, ...]
    editor_spans: tuple[EditorSpan, ...] = ()


@dataclass(frozen=True)
class LinkedSpan:
    """An article link's anchor inside ``PlainText.text``: ``text[start:end]`` is the anchor."""

    start: int
    end: int
    target: str


@dataclass(frozen=True)
class PlainText:
    """Top-level text with each top-level article link replaced by its anchor. Every other node
    (templates, tags, non-article links, comments, headings...) becomes one "\\n", so no sentence or
    n-gram crosses it. A link trail stays glued to its anchor ("[[Link]]s" -> "Links", span "Link")."""

    text: str
    links: tuple[LinkedSpan, ...]


# Tags whose rendering starts a new block or stands apart from the words around it.
# HTML tags Parsoid renders without an "mw:" type and that the editor plugin does not reject, so it
# counts phrase occurrences inside them (AddLinkArticleTarget.getTreeWalker).
_TRANSPARENT_TAGS = frozenset(
    """abbr bdi bdo big cite code data del dfn div em font ins kbd mark p q rb rp rt rtc ruby s samp
    small span strike strong sub sup time tt u var center dl dt dd ul ol li noinclude onlyinclude""".split()
)
_SEPARATING_TAGS = frozenset(
    """ref references br hr p div table tr td th caption li dt dd ul ol dl blockquote center gallery pre
    poem syntaxhighlight source h1 h2 h3 h4 h5 h6 section timeline graph imagemap templatedata
    categorytree inputbox mapframe maplink""".split()
)
# Tags whose contents mwparserfromhell keeps verbatim but which hold wikitext links in captions.
_REPARSED_TAGS = frozenset({"gallery", "imagemap"})
_CATEGORY_PREFIXES = frozenset(
    {"category", "κατηγορία", "категорія", "thể loại", "वर्ग", "kategoreja", "カテゴリ"}
)
_TEMPLATE_PREFIXES = frozenset({"template", "πρότυπο", "шаблон", "bản mẫu", "tiêu bản", "साचा", "taiss"})
# Parser functions and magic words look like templates to mwparserfromhell; they are not templates.
_MAGIC_PREFIXES = frozenset(
    """lc uc lcfirst ucfirst urlencode anchorencode fullurl fullurle localurl localurle canonicalurl
    filepath int ns nse formatnum padleft padright plural grammar gender msg msgnw raw tag""".split()
)
_SUBST_PREFIXES = ("subst:", "safesubst:")


def _anchor(link: Wikilink) -> str:
    if link.text is not None:
        return link.text.strip_code().strip()
    title = str(link.title).strip()
    return title[1:] if title.startswith(":") else title  # [[:Category:X]] shows "Category:X"


def _template_name(raw: str) -> str | None:
    """The normalised template a raw ``{{name|...}}`` name transcludes; None for parser functions and
    magic words."""
    name = raw.strip()
    lowered = name.casefold()
    for prefix in _SUBST_PREFIXES:
        if lowered.startswith(prefix):
            name = name[len(prefix) :].strip()
            lowered = name.casefold()
    if not name or name.startswith("#"):
        return None
    prefix = namespace_prefix(name)
    if prefix is not None:
        if prefix in _TEMPLATE_PREFIXES:
            name = name.split(":", 1)[1]
        elif prefix in _MAGIC_PREFIXES or prefix.upper() == name.split(":", 1)[0].strip():
            return None  # {{lc:..}}, {{DEFAULTSORT:..}}, {{PLURAL:..}}
    elif name.isupper() or name in {"!", "="}:
        return None  # {{PAGENAME}}, {{CURRENTYEAR}}, {{!}}
    return normalise_title(name) or None


def _category(raw_title: str) -> str | None:
    title = raw_title.strip()
    if title.startswith(":"):  # [[:Category:X]] links to the category page
        return None
    if namespace_prefix(title) in _CATEGORY_PREFIXES:
        return normalise_title(title.split(":", 1)[1]) or None
    return None


def _is_glue(node: Node | None, edge_char_at: int) -> bool:
    """Whether ``node`` (the neighbour of a run, comments already skipped) may render visible text
    directly against the run; ``edge_char_at`` is 0 for the neighbour's first char, -1 for its last."""
    if node is None or isinstance(node, Heading):
        return False
    if isinstance(node, Text):
        value = node.value
        return bool(value) and not value[edge_char_at].isspace()
    if isinstance(node, HTMLEntity):
        char = html.unescape(str(node))
        return bool(char) and (char[edge_char_at].isalnum() or char[edge_char_at] == "_")
    if isinstance(node, Tag) and not node.wiki_markup:
        return str(node.tag).strip().lower() not in _SEPARATING_TAGS
    if isinstance(node, Tag) and str(node.tag).strip().lower() in _SEPARATING_TAGS:
        return False  # wiki-markup lists, tables, <hr>: block structure
    return True  # links (trails), templates, bold/italic, external links, arguments


def _neighbour(nodes: list[Node], index: int, step: int) -> Node | None:
    index += step
    while 0 <= index < len(nodes) and isinstance(nodes[index], Comment):
        index += step
    return nodes[index] if 0 <= index < len(nodes) else None


class _Walker:
    """Collects links, templates and categories from a whole tree, with absolute offsets."""

    def __init__(self) -> None:
        self.links: list[Link] = []
        self.templates: dict[str, None] = {}
        self.categories: dict[str, None] = {}

    def walk(self, code: Wikicode, base: int) -> None:
        """Visit every node of a nested ``code`` that starts at ``base`` in the page."""
        pos = base
        for node in code.nodes:
            if isinstance(node, Text):
                pos += len(node.value)
                continue
            source = str(node)
            self.visit(node, source, pos, top_level=False)
            pos += len(source)

    def visit(self, node: Node, source: str, pos: int, *, top_level: bool) -> None:
        """Record ``node`` (whose ``str`` is ``source``, starting at ``pos``) and descend into it."""
        if "[[" not in source and "{{" not in source:
            return  # no link or template can be inside
        if isinstance(node, Wikilink):
            self._add_link(node, pos, len(source), top_level)
        elif isinstance(node, Template):
            name = _template_name(str(node.name))
            if name:
                self.templates.setdefault(name)
        elif isinstance(node, Tag) and str(node.tag).strip().lower() in _REPARSED_TAGS:
            self._walk_reparsed(node, pos)
        for offset, child in children(node):
            self.walk(child, pos + offset)

    def _add_link(self, node: Wikilink, pos: int, length: int, top_level: bool) -> None:
        self.links.append(
            Link(
                target=normalise_title(str(node.title)),
                anchor=_anchor(node),
                start=pos,
                end=pos + length,
                top_level=top_level,
            )
        )
        category = _category(str(node.title))
        if category:
            self.categories.setdefault(category)

    def _walk_reparsed(self, tag: Tag, pos: int) -> None:
        for offset, child in tag_children(tag):
            if child is tag.contents:
                self.walk(mwparserfromhell.parse(str(child)), pos + offset)


def _text_spans(nodes: list[Node], base: int, into: list[EditorSpan]) -> None:
    """Append the editor spans among ``nodes`` (starting at ``base``), descending into transparent tags."""
    pos = base
    span_start: int | None = None
    after_link = False
    previous: Node | None = None
    for node in nodes:
        if isinstance(node, Text):
            if span_start is None:
                span_start, after_link = pos, isinstance(previous, Wikilink)
            pos += len(node.value)
            previous = node
            continue
        if span_start is not None:
            into.append(EditorSpan(span_start, pos, after_link))
            span_start = None
        source = str(node)
        if isinstance(node, Tag) and not node.wiki_markup and not node.self_closing:
            if str(node.tag).strip().lower() in _TRANSPARENT_TAGS:
                offset = next(o for o, child in tag_children(node) if child is node.contents)
                _text_spans(node.contents.nodes, pos + offset, into)
        pos += len(source)
        previous = node
    if span_start is not None:
        into.append(EditorSpan(span_start, pos, after_link))


def _top_level(code: Wikicode, walker: _Walker) -> list[TextRun]:
    """Walk the page's top-level nodes once: feed every non-Text node to ``walker`` and return the
    merged Text runs with their sections and glue flags."""
    runs: list[TextRun] = []
    nodes = code.nodes
    section: str | None = None
    pos = 0
    i = 0
    while i < len(nodes):
        node = nodes[i]
        if not isinstance(node, Text):
            if isinstance(node, Heading):
                section = str(node.title).strip()
            source = str(node)
            walker.visit(node, source, pos, top_level=True)
            pos += len(source)
            i += 1
            continue
        first, start, parts = i, pos, []
        while i < len(nodes) and isinstance(nodes[i], Text):
            parts.append(nodes[i].value)
            pos += len(nodes[i].value)
            i += 1
        runs.append(
            TextRun(
                start=start,
                text="".join(parts),
                section=section,
                glued_before=_is_glue(_neighbour(nodes, first, -1), -1),
                glued_after=_is_glue(_neighbour(nodes, i - 1, 1), 0),
            )
        )
    return runs


class WikitextTooDeep(ValueError):
    """The page nests markup deeper than the parser's tree can be walked (hundreds of bare ``{{``)."""


def parse_article(wikitext: str) -> ParsedArticle:
    """Parse ``wikitext`` once; see the module docstring for the guarantees. Raises TypeError for a
    non-str argument and WikitextTooDeep for nesting beyond Python's recursion limit."""
    if not isinstance(wikitext, str):
        raise TypeError(f"wikitext must be str, not {type(wikitext).__name__}")
    source = neutralise(wikitext)
    try:
        code = _parse_in_chunks(source)
        walker = _Walker()
        runs = _top_level(code, walker)
        editor_spans: list[EditorSpan] = []
        _text_spans(code.nodes, 0, editor_spans)
    except RecursionError:
        raise WikitextTooDeep("markup nested too deeply to parse (Python's recursion limit)") from None
    article = ParsedArticle(
        wikitext=wikitext,
        links=tuple(walker.links),
        runs=tuple(runs),
        templates=tuple(walker.templates),
        categories=tuple(walker.categories),
        editor_spans=tuple(editor_spans),
    )
    return article if source is wikitext else _restored(article)


def _parse_in_chunks(source: str) -> Wikicode:
    """One tree for ``source``; a long text is parsed piece by piece (``markup_guard.chunk_bounds``)
    because every construct that fails to close makes the tokenizer re-scan to the end of its input."""
    nodes: list[Node] = []
    start = 0
    for end in chunk_bounds(source):
        nodes += mwparserfromhell.parse(source[start:end]).nodes
        start = end
    return Wikicode(nodes)


def _restored(article: ParsedArticle) -> ParsedArticle:
    """Map the guard's sentinels back in every string that came from the tree."""
    text = article.wikitext
    return ParsedArticle(
        wikitext=text,
        links=tuple(
            Link(restore(link.target), restore(link.anchor), link.start, link.end, link.top_level)
            for link in article.links
        ),
        runs=tuple(
            TextRun(
                r.start,
                text[r.start : r.end],
                None if r.section is None else restore(r.section),
                r.glued_before,
                r.glued_after,
            )
            for r in article.runs
        ),
        templates=tuple(dict.fromkeys(restore(t) for t in article.templates)),
        categories=tuple(dict.fromkeys(restore(c) for c in article.categories)),
        editor_spans=article.editor_spans,
    )


def plain_text_with_links(
    article: ParsedArticle, *, language: str, namespace_prefixes: Collection[str] = ()
) -> PlainText:
    """Training view of an article; see ``PlainText``. Only top-level links that are article links
    (``titles.is_article_link``) with a non-empty anchor become text; other links are separators."""
    pieces: list[tuple[int, int, str, str | None]] = [(r.start, r.end, r.text, None) for r in article.runs]
    pieces += [
        (link.start, link.end, link.anchor, link.target)
        for link in article.links
        if link.top_level and link.anchor and is_article_link(link.target, language, namespace_prefixes)
    ]
    pieces.sort()
    out: list[str] = []
    spans: list[LinkedSpan] = []
    length = 0
    previous_end = 0
    for start, end, text, target in pieces:
        if start != previous_end and out:
            out.append("\n")
            length += 1
        if target is not None:
            spans.append(LinkedSpan(start=length, end=length + len(text), target=target))
        out.append(text)
        length += len(text)
        previous_end = end
    return PlainText(text="".join(out), links=tuple(spans))


_SCANNER = Scanner(
    {name: chr(point) for name, point in html.entities.name2codepoint.items()},
    set(_SEPARATING_TAGS),
    set(_TRANSPARENT_TAGS),
    set(INVISIBLE_TAGS),
    set(_REPARSED_TAGS),
    RETRY_BUDGET,
)


def scan_article(wikitext: str) -> ParsedArticle:
    """``parse_article`` by the native scanner (addlink_native.scan, a port of mwparserfromhell's
    tokenizer that keeps source offsets): the same ParsedArticle in one pass."""
    if not isinstance(wikitext, str):
        raise TypeError(f"wikitext must be str, not {type(wikitext).__name__}")
    runs, links, templates, spans = _SCANNER.scan(wikitext)
    return ParsedArticle(
        wikitext=wikitext,
        links=tuple(
            Link(normalise_title(title), anchor, start, end, top_level) for start, end, title, anchor, top_level in links
        ),
        runs=tuple(TextRun(start, wikitext[start:end], section, before, after) for start, end, section, before, after in runs),
        templates=tuple(dict.fromkeys(name for raw in templates if (name := _template_name(raw)))),
        categories=tuple(dict.fromkeys(c for _s, _e, title, _a, _t in links if (c := _category(title)))),
        editor_spans=tuple(EditorSpan(start, end, after_link) for start, end, after_link in spans),
    )
