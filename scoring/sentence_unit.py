"""mwaddlink's backtest unit (reference mwaddlink.md §4.4 and §4.7): one sentence per test article.

The sentence: the first of the page, in page order, that is a whole sentence of top-level text (it
ends with a sentence terminator; it does not start a line with list, table or indentation markup),
holds at least one top-level article link, and has words outside its links — as mwaddlink's
extraction takes the first piece of plain text with one full stop, only text and links, more than
two nodes and at least one link. Its gold is every article link in it, (anchor key, target) as
mwaddlink's ``getLinks`` reads them: none of the page-level rules apply.

How backtest.py keeps the page context: only the sentence's own links are removed, and the page is
scored with ``text_only_within``: mentions come from the sentence alone (so an earlier mention of the
same anchor elsewhere cannot take its place), while position and relatedness to the page text are
the real page's. mwaddlink gives the model the sentence alone, so those page-level features saw a
one-sentence page there. The page's other links block nothing in the sentence (backtest.py), as in
mwaddlink, where the sentence is the whole page.

Differences from mwaddlink's extraction, knowingly: bold/italic markup and templates end a run of
top-level text here (a sentence starting after the bold title starts after it), and our sentence
splitter is mwtokenizer's (tokenize.py), not mwaddlink v1's ". " rule.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection
from dataclasses import dataclass, replace

from scoring.tokenize import ends_sentence, is_word_char, sentence_spans
from scoring.wikitext import ParsedArticle, TextRun, plain_text_with_links

__all__ = ["LinkedSentence", "first_linked_sentence", "text_only_within"]

_LINE_MARKUP = "*#:;|! \t"


@dataclass(frozen=True)
class LinkedSentence:
    """A sentence as wikitext offsets [start, end) into the article it was found in."""

    start: int
    end: int


def first_linked_sentence(
    article: ParsedArticle, *, language: str, namespace_prefixes: Collection[str] = ()
) -> LinkedSentence | None:
    """The page's first sentence that mwaddlink's backtest would use (module docstring), or None."""
    plain = plain_text_with_links(article, namespace_prefixes=namespace_prefixes)
    text, wikitext = plain.text, article.wikitext
    starts = [span.start for span in plain.links]  # in order, never overlapping
    for start, end in sentence_spans(text, language):
        first, after = bisect_left(starts, start), bisect_left(starts, end)
        # Only the last anchor starting before an edge can hold it.
        if (first and plain.links[first - 1].end > start) or (after and plain.links[after - 1].end > end):
            continue  # cut inside an anchor ("[[इ.स. १८५६]]" holds a full stop): not a sentence
        links = plain.links[first:after]
        if not links or not ends_sentence(text[start:end], language):
            continue
        source_start = plain.source_offset(start)
        if wikitext[wikitext.rfind("\n", 0, source_start) + 1] in _LINE_MARKUP:
            continue  # a list item, table cell, definition or indented line
        outside = list(text[start:end])
        for span in links:
            outside[span.start - start : span.end - start] = [" "] * (span.end - span.start)
        if any(is_word_char(char) for char in outside):
            return LinkedSentence(source_start, plain.source_offset(end))
    return None


def text_only_within(article: ParsedArticle, start: int, end: int) -> ParsedArticle:
    """``article`` with its top-level text cut to wikitext [start, end): mentions can only be found
    there, while the wikitext, links and templates, which the page-level features and rules read,
    stay the whole page's."""
    runs: list[TextRun] = []
    for run in article.runs:
        first, last = max(run.start, start), min(run.end, end)
        if first < last:
            text = run.text[first - run.start : last - run.start]
            glued_before = run.glued_before and first == run.start
            runs.append(TextRun(first, text, run.section, glued_before, run.glued_after and last == run.end))
    return replace(article, runs=tuple(runs))
