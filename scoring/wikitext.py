"""Parse an article's wikitext once into what scoring needs, with exact offsets.

The native scanner (``addlink_native.scan``, Rust: a port of mwparserfromhell 0.7's tokenizer that
keeps every construct's source position) reads the text in one pass; this module turns its rows
into a ParsedArticle and keeps the namespace rules (template and category names) in Python.
mwparserfromhell's tree is the behaviour it reproduces; the former implementation on it is the test
oracle (tests/unit/wikitext_oracle.py, compared field by field by tests/unit/parse_diff.py).

Guarantees (offsets are Python string indices, i.e. Unicode code points, into the input):
- ``runs``: the top-level text (mwaddlink v2's candidate text: not templates, links, refs, tables,
  bold/italic, headings, comments, entities, other tags), in page order.
  ``wikitext[run.start:run.start + len(run.text)] == run.text`` always (never ``str.find``,
  mwaddlink's defect, reference §2.8). ``run.section`` is the stripped source of the nearest
  preceding top-level heading of any level (None for the lead), so excluding a section never
  excludes its sub-sections.
- Link trails: the letters right after a link's "]]" that the wiki's rule accepts (``linktrail.py``;
  "[[bus]]es" renders as one link, "buses") belong to the link (``Link.trail``), not to the text after
  it: no run or editor span holds them. File, media, category and interlanguage links take no trail.
  The text after a link still counts as glued to it, so a word character right after the trail (one
  the rule rejects) keeps the link inside a longer word.
- ``links``: every wikilink anywhere — inside templates (also nested), refs, tags, file captions, and
  the captions of ``<gallery>``/``<imagemap>`` (scanned again, since mwparserfromhell keeps those
  verbatim); not inside comments or ``<nowiki>``. ``wikitext[link.start:link.end] == "[[...]]"``.
- ``templates`` / ``categories``: normalised names, de-duplicated, in first-seen order.

Bounded: nesting is capped as in mwparserfromhell (deeper markup stays text); a construct whose
closer never comes fails at once, and when openers that never close would still cost more than
``RETRY_BUDGET`` re-scanned characters, their first characters are read as text (the rule of the
oracle's markup_guard, so both read the same text). Nothing recurses with the input.
"""

from __future__ import annotations

import html.entities
from bisect import bisect_right
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache, cached_property
from itertools import accumulate

from scoring.linktrail import LinkTrail, for_language
from scoring.native import EditorSpan, Link, Scanner, TextRun, Trail
from scoring.namespaces import CATEGORY, TEMPLATE, Namespaces, canonical_namespaces
from scoring.titles import LANGUAGE_PREFIXES, TITLE_RULES, is_article_target, namespace_prefix, normalise_title

__all__ = [
    "RETRY_BUDGET",
    "EDITOR_SEPARATOR",
    "EditorSpan",
    "EditorText",
    "LinkedSpan",
    "Link",
    "ParsedArticle",
    "PlainText",
    "TextRun",
    "parse_article",
    "plain_text_with_links",
    "untrailed_prefixes",
]


# Link, TextRun and EditorSpan are built by the native scan (crate native/src/scan/parts.rs), each a
# frozen value with these attributes:
#   Link(target, anchor, start, end, top_level, trail=""): a wikilink. ``target`` is normalised
#     (fragment dropped); ``anchor`` is the label with markup stripped, or the title exactly as written;
#     ``trail`` the link trail after "]]" (``wikitext[end:trail_end]``); ``text`` is anchor + trail
#     ("[[bus]]es" -> "buses"). ``top_level`` is True for links that are direct children of the page
#     (not inside a template, tag or other link).
#   TextRun(start, text, section, glued_before=False, glued_after=False), ``end``: a run of top-level
#     text. ``glued_before``/``glued_after``: the neighbouring markup may render text directly against
#     this run's edge (a link with its trail, a template, bold, an inline tag), so a word touching that
#     edge may be part of a longer rendered word.
#   EditorSpan(start, end): text that GrowthExperiments' VisualEditor plugin searches when it locates a
#     suggestion: a run of Text nodes at top level or inside HTML tags it descends into (span, div,
#     small, sup, ...; not b/i, headings, tables, blockquote, refs or other extension tags), less link
#     trails (Parsoid puts them inside the link's ``<a>``).

EDITOR_SEPARATOR = "\x00"  # ends every editor span in ``EditorText.joined``; never part of a phrase


class EditorText:
    """The text the editor searches (``ParsedArticle.editor_spans``) joined into one string, each span
    followed by ``EDITOR_SEPARATOR`` (one DOM text node each), and the map from wikitext offsets into it."""

    def __init__(self, wikitext: str, spans: tuple[EditorSpan, ...]) -> None:
        self.starts = [span.start for span in spans]  # wikitext start of each span (link trails already left out)
        self.ends = [span.end for span in spans]
        self.joined_starts = [0, *accumulate(end - start + 1 for start, end in zip(self.starts, self.ends))]
        self.joined = "".join([wikitext[start:end] + EDITOR_SEPARATOR for start, end in zip(self.starts, self.ends)])

    def position(self, offset: int) -> int | None:
        """Index in ``joined`` of wikitext ``offset``, or None if the editor does not search there."""
        i = bisect_right(self.starts, offset) - 1
        if i < 0 or offset >= self.ends[i]:
            return None
        return self.joined_starts[i] + offset - self.starts[i]


@dataclass(frozen=True)
class ParsedArticle:
    wikitext: str
    links: tuple[Link, ...]
    runs: tuple[TextRun, ...]
    templates: tuple[str, ...]
    categories: tuple[str, ...]
    editor_spans: tuple[EditorSpan, ...] = ()

    @cached_property
    def editor_text(self) -> EditorText:
        """Built on first use and kept: mention discovery and placement both search it."""
        return EditorText(self.wikitext, self.editor_spans)


@dataclass(frozen=True)
class LinkedSpan:
    """An article link's anchor inside ``PlainText.text``: ``text[start:end]`` is the anchor."""

    start: int
    end: int
    target: str


@dataclass(frozen=True)
class PlainText:
    """Top-level text with each top-level article link replaced by its rendered text. Every other node
    (templates, tags, non-article links, comments, headings...) becomes one "\\n", so no sentence or
    n-gram crosses it. A link's span covers its trail ("[[Link]]s" -> "Links", span "Links")."""

    text: str
    links: tuple[LinkedSpan, ...]
    # (start, end) in ``text`` and (start, end) in the wikitext of every piece, in order
    pieces: tuple[tuple[int, int, int, int], ...] = ()

    def source_offset(self, offset: int) -> int:
        """The wikitext offset of ``text[offset]``: exact inside top-level text; the start of a piece maps
        to the start of its source (a link's "[["), anything past or inside an anchor to its link's end."""
        index = bisect_right(self.pieces, offset, key=lambda piece: piece[0]) - 1
        if index < 0:
            return 0
        start, end, source_start, source_end = self.pieces[index]
        if offset == start:
            return source_start
        if offset < end and end - start == source_end - source_start:  # top-level text: one to one
            return source_start + offset - start
        return source_end


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
# Parser functions and magic words look like templates to mwparserfromhell; they are not templates.
_MAGIC_PREFIXES = frozenset(
    """lc uc lcfirst ucfirst urlencode anchorencode fullurl fullurle localurl localurle canonicalurl
    filepath int ns nse formatnum padleft padright plural grammar gender msg msgnw raw tag""".split()
)
# MediaWiki's variables (MagicWordFactory::$mVariableIDs and common extensions), by canonical name:
# {{PAGENAME}} is no template, but {{BKL}} or {{NPOV}} is, so upper case alone does not tell.
_MAGIC_VARIABLES = frozenset(
    """! = CURRENTMONTH CURRENTMONTH1 CURRENTMONTH2 CURRENTMONTHNAME CURRENTMONTHNAMEGEN CURRENTMONTHABBREV
    CURRENTDAY CURRENTDAY2 CURRENTDAYNAME CURRENTYEAR CURRENTTIME CURRENTHOUR CURRENTWEEK CURRENTDOW
    CURRENTTIMESTAMP CURRENTVERSION LOCALMONTH LOCALMONTH1 LOCALMONTH2 LOCALMONTHNAME LOCALMONTHNAMEGEN
    LOCALMONTHABBREV LOCALDAY LOCALDAY2 LOCALDAYNAME LOCALYEAR LOCALTIME LOCALHOUR LOCALWEEK LOCALDOW
    LOCALTIMESTAMP NUMBEROFPAGES NUMBEROFARTICLES NUMBEROFFILES NUMBEROFUSERS NUMBEROFACTIVEUSERS
    NUMBEROFEDITS NUMBEROFADMINS PAGENAME PAGENAMEE FULLPAGENAME FULLPAGENAMEE SUBPAGENAME SUBPAGENAMEE
    ROOTPAGENAME ROOTPAGENAMEE BASEPAGENAME BASEPAGENAMEE TALKPAGENAME TALKPAGENAMEE SUBJECTPAGENAME
    SUBJECTPAGENAMEE ARTICLEPAGENAME ARTICLEPAGENAMEE NAMESPACE NAMESPACEE NAMESPACENUMBER TALKSPACE
    TALKSPACEE SUBJECTSPACE SUBJECTSPACEE ARTICLESPACE ARTICLESPACEE PAGEID PAGESIZE PAGELANGUAGE
    REVISIONID REVISIONDAY REVISIONDAY2 REVISIONMONTH REVISIONMONTH1 REVISIONYEAR REVISIONTIMESTAMP
    REVISIONUSER REVISIONSIZE SITENAME SERVER SERVERNAME SCRIPTPATH STYLEPATH DIRECTIONMARK DIRMARK
    CONTENTLANGUAGE CONTENTLANG CASCADINGSOURCES NOEXTERNALLANGLINKS""".split()
)
_SUBST_PREFIXES = ("subst:", "safesubst:")
# Tags whose contents mwparserfromhell's strip_code drops (its definitions.INVISIBLE_TAGS); a link's
# anchor is its label stripped that way.
_INVISIBLE_TAGS = frozenset(
    "categorytree gallery graph imagemap inputbox math score section templatedata timeline".split()
)
# Characters the tokenizer may re-scan for openers that never close (unclosed openers x text length)
# before those openers are read as text: 4,000 unclosed "{{" in 24 KB would otherwise cost 100 M.
RETRY_BUDGET = 20_000_000
DEFAULT_TRAIL = for_language("en")  # MessagesEn's, MediaWiki's fallback


def _template_name(raw: str, namespaces: Namespaces) -> str | None:
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
        if namespaces.number(prefix) == TEMPLATE:
            name = name.split(":", 1)[1]
        elif prefix in _MAGIC_PREFIXES or prefix.upper() == name.split(":", 1)[0].strip():
            return None  # {{lc:..}}, {{DEFAULTSORT:..}}, {{PLURAL:..}}
    elif name.upper() in _MAGIC_VARIABLES:
        return None  # {{PAGENAME}}, {{CURRENTYEAR}}, {{!}}
    return normalise_title(name) or None


def _category(raw_title: str, namespaces: Namespaces) -> str | None:
    title = raw_title.strip()
    if title.startswith(":"):  # [[:Category:X]] links to the category page
        return None
    if namespaces.of_title(title) == CATEGORY:
        return normalise_title(title.split(":", 1)[1]) or None
    return None


def plain_text_with_links(article: ParsedArticle, *, namespace_prefixes: Collection[str]) -> PlainText:
    """Training view of an article; see ``PlainText``. Only top-level links that are article links
    (``titles.is_article_target``) with a non-empty anchor become text; other links are separators."""
    pieces: list[tuple[int, int, str, str | None]] = [(r.start, r.end, r.text, None) for r in article.runs]
    pieces += [
        (link.start, link.trail_end, link.text, link.target)
        for link in article.links
        if link.top_level and link.anchor and is_article_target(link.target, namespace_prefixes)
    ]
    pieces.sort()
    out: list[str] = []
    spans: list[LinkedSpan] = []
    sources: list[tuple[int, int, int, int]] = []
    length = 0
    previous_end = 0
    for start, end, text, target in pieces:
        if start != previous_end and out:
            out.append("\n")
            length += 1
        if target is not None:
            spans.append(LinkedSpan(start=length, end=length + len(text), target=target))
        sources.append((length, length + len(text), start, end))
        out.append(text)
        length += len(text)
        previous_end = end
    return PlainText(text="".join(out), links=tuple(spans), pieces=tuple(sources))


_SCANNER = Scanner(
    {name: chr(point) for name, point in html.entities.name2codepoint.items()},
    set(_SEPARATING_TAGS),
    set(_TRANSPARENT_TAGS),
    set(_INVISIBLE_TAGS),
    set(_REPARSED_TAGS),
    RETRY_BUDGET,
    TITLE_RULES,
)


def untrailed_prefixes(namespaces: Namespaces) -> frozenset[str]:
    """Title prefixes of links that take no trail: MediaWiki appends the letters after a file, media,
    category or interlanguage link as text (unless the title starts with ":", a plain link)."""
    return namespaces.media_names | LANGUAGE_PREFIXES


@cache
def _native_trail(trail: LinkTrail, media_names: frozenset[str]) -> Trail:
    # Keyed by the namespaces' cached ``media_names`` (hash computed once), so a parse builds no set.
    return Trail(list(trail.ranges), set(media_names | LANGUAGE_PREFIXES))


def parse_article(
    wikitext: str, namespaces: Namespaces | None = None, link_trail: LinkTrail | None = None
) -> ParsedArticle:
    """Parse ``wikitext`` once; see the module docstring for the guarantees. ``namespaces``: the
    wiki's (``Bundle.namespaces``), to tell its templates and categories; MediaWiki's canonical
    names only when None. ``link_trail``: the wiki's rule (``Bundle.link_trail``); MediaWiki's
    default ``[a-z]*`` when None. Raises TypeError for a non-str argument."""
    if not isinstance(wikitext, str):
        raise TypeError(f"wikitext must be str, not {type(wikitext).__name__}")
    namespaces = namespaces or canonical_namespaces()
    runs, links, colon_titles, templates, spans = _SCANNER.scan(
        wikitext, _native_trail(link_trail or DEFAULT_TRAIL, namespaces.media_names)
    )
    return ParsedArticle(
        wikitext=wikitext,
        links=links,
        runs=runs,
        templates=tuple(dict.fromkeys(name for raw in templates if (name := _template_name(raw, namespaces)))),
        # a title without ":" names no namespace: the scan gives only the titles with one
        categories=tuple(dict.fromkeys(c for title in colon_titles if (c := _category(title, namespaces)))),
        editor_spans=spans,
    )
