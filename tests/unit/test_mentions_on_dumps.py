"""Property test of find_mentions over every article of the sample dumps, every word n-gram an anchor.

Always runs on the committed excerpts (tests/data/dumps). Set ADDLINK_SAMPLE_DUMPS to a folder of
full dumps (e.g. the team's shared samples) to run the same checks on all of their articles (slow).

Checked for every mention, each against a simple independent computation:
- ``wikitext[offset:offset + len(text)] == text``;
- it lies inside top-level Text nodes of a plain mwparserfromhell parse (top-level text only),
  and not in an excluded section (section = last top-level heading before it);
- it is at a word boundary inside its node, and an edge touching a link, template or bold/italic
  neighbour is not a word character;
- ``match_index`` is the number of earlier matches of a left-to-right regex scan for the text over
  the editor's text nodes, and the scan matches exactly at the mention.
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Iterator
from pathlib import Path

import mwparserfromhell
import pytest
from mwparserfromhell.nodes import Heading, Tag, Template, Text, Wikilink

import markup_guard
from oracle_tokenize import word_ngram_keys

from scoring.dumps import is_article, iter_pages, read_siteinfo
from scoring.mentions import find_mentions
from scoring.native import build_anchor_index
from scoring.linktrail import for_language
from scoring.tokenize import at_word_boundary, is_word_char
from scoring.wikitext import ParsedArticle, parse_article

COMMITTED = sorted((Path(__file__).resolve().parents[1] / "data" / "dumps").glob("*-sample.xml.bz2"))
FULL = sorted(Path(os.environ["ADDLINK_SAMPLE_DUMPS"]).glob("*.xml*")) if os.environ.get(
    "ADDLINK_SAMPLE_DUMPS") else []


def _top_level_nodes(text: str) -> list[tuple[int, int, object]]:
    """(start, end, node) of every top-level node; adjacent Text nodes merged into one. Broken markup
    is neutralised as parse_article does (markup_guard); the page is parsed whole, as it does."""
    nodes: list[tuple[int, int, object]] = []
    pos = 0
    for node in mwparserfromhell.parse(markup_guard.neutralise(text)).nodes:
        length = len(str(node))
        if isinstance(node, Text) and nodes and isinstance(nodes[-1][2], Text):
            start = nodes[-1][0]
            nodes[-1] = (start, pos + length, Text(text[start : pos + length]))
        else:
            nodes.append((pos, pos + length, node))
        pos += length
    return nodes


def _editor_nodes(article: ParsedArticle) -> list[tuple[int, str]]:
    """The editor's text nodes: the editor spans (the link trail renders inside the link, not in them)."""
    return [(span.start, article.wikitext[span.start : span.end]) for span in article.editor_spans]


def _editor_rank(nodes: list[tuple[int, str]], phrase: str, offset: int) -> int | None:
    """Scan the nodes in order like the editor's global regex; rank of the match at ``offset``."""
    pattern = re.compile(re.escape(phrase))
    count = 0
    for start, text in nodes:
        if phrase not in text:
            continue
        for match in pattern.finditer(text):
            if start + match.start() == offset:
                return count
            count += 1
    return None


def _glue_neighbour(node: object) -> bool:
    return isinstance(node, (Wikilink, Template)) or (isinstance(node, Tag) and str(node.tag) in {"b", "i"})


def _check_page(title: str, text: str, language: str, exclude: bool) -> int:
    nodes = _top_level_nodes(text)
    headings = [(s, str(n.title).strip()) for s, _, n in nodes if isinstance(n, Heading)]
    excluded = ["%LEAD%", headings[0][1]] if exclude and headings else []
    trail = for_language(language)
    article = parse_article(text, link_trail=trail)
    editor_nodes = _editor_nodes(article)
    node_starts = [s for s, _, _ in nodes]
    count = 0
    for m in find_mentions(article, language=language, title=title, excluded_sections=excluded,
                           anchors=build_anchor_index(word_ngram_keys((r.text for r in article.runs), language))):
        start, end = m.wikitext_offset, m.wikitext_offset + len(m.text)
        assert text[start:end] == m.text, (title, m)
        index = bisect.bisect_right(node_starts, start) - 1
        node_start, node_end, node = nodes[index]
        assert isinstance(node, Text) and end <= node_end, (title, m)
        value = node.value
        if index > 0 and isinstance(nodes[index - 1][2], Wikilink):  # the link trail renders in the link
            skip = trail.length(value, 0)
            node_start, value = node_start + skip, value[skip:]
            assert start >= node_start, (title, m)
        section = next((h for s, h in reversed(headings) if s < start), None)
        if excluded:
            assert section is not None and section.casefold() != excluded[1].casefold(), (title, m)
        assert at_word_boundary(value, start - node_start, end - node_start, language), (title, m)
        if start == node_start and index > 0 and _glue_neighbour(nodes[index - 1][2]):
            assert not is_word_char(m.text[0]), (title, m)
        if end == node_end and index + 1 < len(nodes) and _glue_neighbour(nodes[index + 1][2]):
            assert not is_word_char(m.text[-1]), (title, m)
        assert m.match_index == _editor_rank(editor_nodes, m.text, start), (title, m)
        count += 1
    return count


def _articles(path: Path) -> Iterator[tuple[str, str, int]]:
    for page in iter_pages(path):
        if is_article(page):
            yield page.title, page.text, page.page_id


def _check_dump(path: Path) -> None:
    language = read_siteinfo(path).language
    total = sum(_check_page(title, text, language, exclude=page_id % 2 == 0)
                for title, text, page_id in _articles(path))
    assert total > 0


@pytest.mark.parametrize("dump", COMMITTED, ids=lambda p: p.name.split("-")[0])
def test_mentions_on_committed_excerpts(dump: Path) -> None:
    _check_dump(dump)


@pytest.mark.slow
@pytest.mark.skipif(not FULL, reason="set ADDLINK_SAMPLE_DUMPS to a folder of full sample dumps")
@pytest.mark.parametrize("dump", FULL, ids=lambda p: p.name.split("-")[0])
def test_mentions_on_full_sample_dumps(dump: Path) -> None:
    _check_dump(dump)
