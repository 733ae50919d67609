"""Candidate mentions on a page, each placed exactly and countable the way the editor counts.

``find_mentions`` walks the page in mwaddlink v2's discovery order (section, top-level text run,
sentence, n = 5..1, left to right) and yields each anchor key once, at its first eligible occurrence.
Unlike mwaddlink it guarantees:

- ``wikitext[m.wikitext_offset : m.wikitext_offset + len(m.text)] == m.text`` (code points);
- a mention is never part of a longer word: its edges are token boundaries, and an edge touching
  markup that renders glued to it (a link trail, a template, bold) must not be a word character;
- it contains no ``''`` (bold/italic markup that mwparserfromhell failed to pair and left as text);
- ``match_index`` lets GrowthExperiments' VisualEditor plugin find that very occurrence.

How the editor locates a suggestion (AddLinkArticleTarget.js, ``annotateSuggestions`` and
``getTreeWalker``): it walks the DOM text nodes of the Parsoid HTML, skipping everything inside
elements whose ``typeof``/``rel``/``property`` starts with "mw:" (templates, links, media, refs,
entities, extension tags), elements with an ``about`` attribute, and H1-H6, TABLE, B, I and
BLOCKQUOTE. In each text node it runs ONE global, case-sensitive regex that alternates all suggested
phrases (no word boundaries, despite its comment), and counts every match per phrase; the suggestion
whose ``match_index`` equals the count so far is annotated there. So the rank is a case-sensitive,
non-overlapping substring count (inside longer words too) over ``ParsedArticle.editor_spans`` (top-level
text plus text inside span/div/small/sup/... tags, minus link trails: Parsoid puts the letters the
wiki's trail rule accepts inside the link), in page order — excluded sections included.

Two consequences handled here:
- ``Mention.match_index`` is that count for the phrase on its own. A mention the scan cannot reach
  (an earlier overlapping match of the same phrase covers it) is not eligible.
- When several phrases are suggested together they compete in one alternation (the earlier key in
  JavaScript object order wins at a position, and a match consumes its characters), and a phrase
  stops competing once all its suggestions are found. ``editor_match_indices`` simulates exactly that
  for the final list and says which suggestions the editor would fail to find; use it for gelr_data.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from scoring.native import AnchorIndex, editor_ranks
from scoring.titles import normalise_anchor
from scoring.tokenize import run_anchor_hits
from scoring.wikitext import ParsedArticle, TextRun

__all__ = ["LEAD", "Mention", "editor_match_indices", "find_mentions"]

LEAD = "%LEAD%"
CONTEXT_CHARS = 10


@dataclass(frozen=True)
class Mention:
    text: str
    key: str
    wikitext_offset: int
    match_index: int
    context_before: str
    context_after: str
    run_index: int
    sentence_index: int


class _EditorText:
    """The page text the editor searches (``ParsedArticle.editor_text``, built once per article) and the
    rank of a phrase's match in it."""

    def __init__(self, article: ParsedArticle) -> None:
        text = article.editor_text
        self.joined = text.joined
        self.position = text.position

    def ranks(self, queries: Sequence[tuple[str, int]]) -> list[int | None]:
        """For each ``(phrase, wikitext offset)``: the 0-based rank of the match of ``phrase`` there in a
        left-to-right, non-overlapping scan, or None if the scan never matches there. One native pass
        over the text answers them all (``native.editor_ranks``)."""
        positions = [self.position(offset) for _, offset in queries]
        asked = [(phrase, at) for (phrase, _), at in zip(queries, positions) if at is not None]
        answers = iter(editor_ranks(self.joined, asked) if asked else ())
        return [None if at is None else next(answers) for at in positions]


def _excluded(run: TextRun, lead_excluded: bool, excluded: frozenset[str]) -> bool:
    section = run.section  # read once: each read of a native run's section makes a new str
    if section is None:
        return lead_excluded
    return section.casefold() in excluded


def find_mentions(
    article: ParsedArticle,
    *,
    language: str,
    title: str,
    excluded_sections: Sequence[str],
    anchors: AnchorIndex,
) -> Iterator[Mention]:
    """Yield mentions lazily in discovery order; see the module docstring for the guarantees.
    ``excluded_sections``: headings compared casefolded and exactly; ``"%LEAD%"`` excludes the lead.
    ``anchors`` maps anchor keys (``normalise_anchor``) to anchor indices; the native engine walks the
    n-grams of every run through it in one call (``tokenize.run_anchor_hits``), before the first mention
    is yielded. ``title`` is accepted for the caller's symmetry with mwaddlink; the "not part of the
    page title" rule is a selection filter and is not applied here."""
    del title
    lead_excluded = LEAD in excluded_sections
    excluded = frozenset(s.strip().casefold() for s in excluded_sections if s != LEAD)
    editor = _EditorText(article)
    seen: set[int] = set()  # anchor indices already yielded (one index per key)
    runs = list(enumerate(article.runs))
    if lead_excluded or excluded:
        runs = [(index, run) for index, run in runs if not _excluded(run, lead_excluded, excluded)]
    # Token edges are word boundaries (tokenize's contract); the native walk also drops n-grams with
    # quote markup mwparserfromhell left as text ("''") and run edges glued to markup. One call walks
    # every run of the page.
    spans = [(run.start, run.end, run.glued_before, run.glued_after) for _, run in runs]
    hits = run_anchor_hits(article.wikitext, spans, language, anchors, markup_filter=True)
    wikitext = article.wikitext
    # Ranks are asked in one native pass for the first hit of every anchor, then for every later hit of
    # the anchors whose first hit the editor cannot reach (rare): a mention is an anchor's first reachable hit.
    hit_anchors = [hit[4] for hit in hits]
    # Each anchor's first hit number: stored in reverse order, the first hit is the one that stays.
    first = dict(zip(reversed(hit_anchors), range(len(hit_anchors) - 1, -1, -1)))
    ranks = _hit_ranks(editor, wikitext, spans, hits, sorted(first.values()))
    retry = {anchor for anchor, number in first.items() if ranks[number] is None}
    if retry:
        later = [number for number, anchor in enumerate(hit_anchors) if anchor in retry and number not in ranks]
        ranks.update(_hit_ranks(editor, wikitext, spans, hits, later))
    for number in sorted(ranks):  # only ranked hits can be mentions
        rank = ranks[number]
        run_number, start, end, sentence_index, anchor = hits[number]
        if rank is None or anchor in seen:
            continue
        seen.add(anchor)
        run_start, run_end = spans[run_number][:2]
        offset = run_start + start
        surface = wikitext[offset : run_start + end]
        yield Mention(
            text=surface,
            key=normalise_anchor(surface),
            wikitext_offset=offset,
            match_index=rank,
            context_before=wikitext[max(run_start, offset - CONTEXT_CHARS) : offset],
            context_after=wikitext[run_start + end : min(run_end, run_start + end + CONTEXT_CHARS)],
            run_index=runs[run_number][0],
            sentence_index=sentence_index,
        )


def _hit_ranks(editor: _EditorText, wikitext: str, spans: list[tuple[int, int, bool, bool]],
               hits: list[tuple[int, int, int, int, int]], numbers: list[int]) -> dict[int, int | None]:
    """The editor's rank of each hit ``hits[number]`` (offsets relative to its run ``spans[...]``), by number."""
    queries = []
    for number in numbers:
        run, start, end = hits[number][:3]
        run_start = spans[run][0]
        queries.append((wikitext[run_start + start : run_start + end], run_start + start))
    return dict(zip(numbers, editor.ranks(queries)))


_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")


def _js_key_order(phrases: list[str]) -> list[str]:
    """Property order of a JavaScript object built by inserting ``phrases`` in order: array-index
    keys ("0", "2021", below 2**32 - 1) first in numeric order, then the rest by insertion."""
    indices = sorted((p for p in phrases if _ARRAY_INDEX.fullmatch(p) and int(p) < 2**32 - 1), key=int)
    index_set = set(indices)
    return indices + [p for p in phrases if p not in index_set]


def editor_match_indices(article: ParsedArticle, links: Sequence[tuple[str, int]]) -> list[int | None]:
    """For suggestions ``(link_text, wikitext_offset)`` in gelr_data order, the ``match_index`` each
    needs so that the editor, searching all of them at once, annotates exactly that occurrence; None
    for a suggestion it cannot reach (another phrase's match covers it). Suggestions that get None are
    left out of the simulation, and it is rerun until stable, so the non-None values are right for the
    list without them."""
    editor = _EditorText(article)
    active = [editor.position(offset) is not None for _, offset in links]
    while True:
        result = _simulate(editor, links, active)
        lost = [i for i, value in enumerate(result) if value is None and active[i]]
        if not lost:
            return result
        for i in lost:
            active[i] = False


def _simulate(editor: _EditorText, links: Sequence[tuple[str, int]], active: list[bool]) -> list[int | None]:
    """The editor's one alternation regex, run with ``str.find``: the next match is the leftmost
    occurrence of any phrase still searched, the earlier phrase in key order winning a tie, and the
    scan goes on after it (matches never overlap)."""
    pending: dict[str, dict[int, int]] = {}  # phrase -> {joined position: link number}
    for number, ((phrase, offset), on) in enumerate(zip(links, active, strict=True)):
        if on:
            pending.setdefault(phrase, {})[editor.position(offset)] = number  # type: ignore[index]
    result: list[int | None] = [None] * len(links)
    seen = dict.fromkeys(pending, 0)
    order = _js_key_order(list(pending))
    joined = editor.joined
    following = {phrase: joined.find(phrase) for phrase in order}  # each phrase's next occurrence, -1 when none
    while order:
        found = [(at, rank, phrase) for rank, phrase in enumerate(order) if (at := following[phrase]) != -1]
        if not found:
            break
        at, _, phrase = min(found)
        end = at + len(phrase)
        number = pending[phrase].pop(at, None)
        if number is not None:
            result[number] = seen[phrase]
            if not pending[phrase]:
                order.remove(phrase)
        seen[phrase] += 1
        for other in order:
            if 0 <= following[other] < end:
                following[other] = joined.find(other, end)
    return result
