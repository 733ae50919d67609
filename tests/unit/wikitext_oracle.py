"""The test oracle: ``scoring.wikitext.parse_article`` as it was built on mwparserfromhell.

Product code parses with the native scanner (addlink_native.scan, a port of mwparserfromhell's
tokenizer); this implementation survives only to check it (parse_diff.py, test_native_scan.py).
It reads the tree mwparserfromhell builds, with offsets from ``node_offsets``; broken markup is
neutralised first and long pages are parsed in pieces (``markup_guard``), since mwparserfromhell
re-scans to the end of its input for every construct that fails to close.
"""

from __future__ import annotations

import html

import mwparserfromhell
from mwparserfromhell.nodes import Comment, Heading, HTMLEntity, Node, Tag, Template, Text, Wikilink
from mwparserfromhell.wikicode import Wikicode

from markup_guard import chunk_bounds, neutralise, restore
from node_offsets import children, tag_children
from scoring.linktrail import LinkTrail
from scoring.namespaces import Namespaces, canonical_namespaces
from scoring.titles import namespace_prefix, normalise_title
from scoring.wikitext import (
    _REPARSED_TAGS,
    _SEPARATING_TAGS,
    _TRANSPARENT_TAGS,
    DEFAULT_TRAIL,
    EditorSpan,
    Link,
    ParsedArticle,
    TextRun,
    _category,
    _template_name,
    untrailed_prefixes,
)

__all__ = ["WikitextTooDeep", "parse_article"]


def _anchor(link: Wikilink) -> str:
    if link.text is not None:
        return link.text.strip_code().strip()
    title = str(link.title).strip()
    return title[1:] if title.startswith(":") else title  # [[:Category:X]] shows "Category:X"


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


def _trail(nodes: list[Node], index: int, trail: LinkTrail, untrailed: frozenset[str]) -> str:
    """The link trail after ``nodes[index]`` (a wikilink): the letters ``trail`` accepts at the start of
    the Text nodes right after it; none after a link whose prefix is ``untrailed`` (files, categories...)."""
    title = str(nodes[index].title).lstrip()
    if not title.startswith(":") and namespace_prefix(title) in untrailed:
        return ""
    following = []
    for node in nodes[index + 1 :]:
        if not isinstance(node, Text):
            break
        following.append(node.value)
    text = "".join(following)
    return text[: trail.length(text, 0)]


def _neighbour(nodes: list[Node], index: int, step: int) -> Node | None:
    index += step
    while 0 <= index < len(nodes) and isinstance(nodes[index], Comment):
        index += step
    return nodes[index] if 0 <= index < len(nodes) else None


class _Walker:
    """Collects links, templates and categories from a whole tree, with absolute offsets."""

    def __init__(self, namespaces: Namespaces, trail: LinkTrail) -> None:
        self.namespaces = namespaces
        self.trail = trail
        self.untrailed = untrailed_prefixes(namespaces)
        self.links: list[Link] = []
        self.templates: dict[str, None] = {}
        self.categories: dict[str, None] = {}

    def walk(self, code: Wikicode, base: int) -> None:
        """Visit every node of a nested ``code`` that starts at ``base`` in the page."""
        pos = base
        for index, node in enumerate(code.nodes):
            if isinstance(node, Text):
                pos += len(node.value)
                continue
            source = str(node)
            trail = _trail(code.nodes, index, self.trail, self.untrailed) if isinstance(node, Wikilink) else ""
            self.visit(node, source, pos, top_level=False, trail=trail)
            pos += len(source)

    def visit(self, node: Node, source: str, pos: int, *, top_level: bool, trail: str) -> None:
        """Record ``node`` (whose ``str`` is ``source``, starting at ``pos``, followed by the link trail
        ``trail`` when it is a link) and descend into it."""
        if "[[" not in source and "{{" not in source:
            return  # no link or template can be inside
        if isinstance(node, Wikilink):
            self._add_link(node, pos, len(source), top_level, trail)
        elif isinstance(node, Template):
            name = _template_name(str(node.name), self.namespaces)
            if name:
                self.templates.setdefault(name)
        elif isinstance(node, Tag) and str(node.tag).strip().lower() in _REPARSED_TAGS:
            self._walk_reparsed(node, pos)
        for offset, child in children(node):
            self.walk(child, pos + offset)

    def _add_link(self, node: Wikilink, pos: int, length: int, top_level: bool, trail: str) -> None:
        self.links.append(
            Link(
                target=normalise_title(str(node.title)),
                anchor=_anchor(node),
                start=pos,
                end=pos + length,
                top_level=top_level,
                trail=trail,
            )
        )
        category = _category(str(node.title), self.namespaces)
        if category:
            self.categories.setdefault(category)

    def _walk_reparsed(self, tag: Tag, pos: int) -> None:
        for offset, child in tag_children(tag):
            if child is tag.contents:
                self.walk(mwparserfromhell.parse(str(child)), pos + offset)


def _text_spans(nodes: list[Node], base: int, into: list[EditorSpan], walker: _Walker) -> None:
    """Append the editor spans among ``nodes`` (starting at ``base``), descending into transparent tags;
    a link's trail is not searched (it is inside the link)."""
    pos = base
    span_start: int | None = None
    for index, node in enumerate(nodes):
        if isinstance(node, Text):
            if span_start is None:
                span_start = pos
            pos += len(node.value)
            continue
        if span_start is not None and span_start < pos:
            into.append(EditorSpan(span_start, pos))
        span_start = None
        source = str(node)
        if isinstance(node, Tag) and not node.wiki_markup and not node.self_closing:
            if str(node.tag).strip().lower() in _TRANSPARENT_TAGS:
                offset = next(o for o, child in tag_children(node) if child is node.contents)
                _text_spans(node.contents.nodes, pos + offset, into, walker)
        pos += len(source)
        if isinstance(node, Wikilink):
            span_start = pos + len(_trail(nodes, index, walker.trail, walker.untrailed))
    if span_start is not None and span_start < pos:
        into.append(EditorSpan(span_start, pos))


def _top_level(code: Wikicode, walker: _Walker) -> list[TextRun]:
    """Walk the page's top-level nodes once: feed every non-Text node to ``walker`` and return the
    merged Text runs with their sections and glue flags."""
    runs: list[TextRun] = []
    nodes = code.nodes
    section: str | None = None
    pos = 0
    i = 0
    trail = ""  # the trail of the link just visited, which the next run leaves to it
    while i < len(nodes):
        node = nodes[i]
        if not isinstance(node, Text):
            if isinstance(node, Heading):
                section = str(node.title).strip()
            source = str(node)
            trail = _trail(nodes, i, walker.trail, walker.untrailed) if isinstance(node, Wikilink) else ""
            walker.visit(node, source, pos, top_level=True, trail=trail)
            pos += len(source)
            i += 1
            continue
        first, start, parts = i, pos + len(trail), []
        while i < len(nodes) and isinstance(nodes[i], Text):
            parts.append(nodes[i].value)
            pos += len(nodes[i].value)
            i += 1
        text = "".join(parts)[len(trail) :]
        trail = ""
        if not text:
            continue
        runs.append(
            TextRun(
                start=start,
                text=text,
                section=section,
                glued_before=_is_glue(_neighbour(nodes, first, -1), -1),
                glued_after=_is_glue(_neighbour(nodes, i - 1, 1), 0),
            )
        )
    return runs


class WikitextTooDeep(ValueError):
    """The page nests markup deeper than the parser's tree can be walked (hundreds of bare ``{{``)."""


def parse_article(
    wikitext: str, namespaces: Namespaces | None = None, link_trail: LinkTrail | None = None
) -> ParsedArticle:
    """Parse ``wikitext`` once; see the module docstring for the guarantees. Raises TypeError for a
    non-str argument and WikitextTooDeep for nesting beyond Python's recursion limit."""
    if not isinstance(wikitext, str):
        raise TypeError(f"wikitext must be str, not {type(wikitext).__name__}")
    source = neutralise(wikitext)
    try:
        code = _parse_in_chunks(source)
        walker = _Walker(namespaces or canonical_namespaces(), link_trail or DEFAULT_TRAIL)
        runs = _top_level(code, walker)
        editor_spans: list[EditorSpan] = []
        _text_spans(code.nodes, 0, editor_spans, walker)
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
            Link(restore(link.target), restore(link.anchor), link.start, link.end, link.top_level, link.trail)
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


