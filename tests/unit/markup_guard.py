"""Keep mwparserfromhell linear on broken wikitext by neutralising openers that can never close.

Part of the test oracle (wikitext_oracle.py); the native scanner ports ``neutralise``.

mwparserfromhell retries every unclosed construct (``{{``, ``[[``, ``{|``, ``<tag>``, ``[http..``,
``<!--``) by scanning ahead to the end of the text, so k unclosed openers cost about k x len(text):
4,000 unclosed ``{{`` in 24 KB take 7 s, and the cost grows quadratically (measured with 0.7.2's C
tokenizer). A linear pre-pass finds openers without a closer (per kind, innermost-first stack
matching, as the parser pairs them) and, only when their estimated retry cost exceeds a budget,
replaces each such opener's first character by a same-length sentinel the parser reads as plain text.
Offsets therefore stay exact; ``restore`` maps sentinels back in any string taken from the tree.

Below the budget the text is parsed unchanged, so ordinary pages (a handful of unclosed constructs)
get exactly mwparserfromhell's tree, as mwaddlink does. Above it, an opener the parser would still
have closed in some odd way (e.g. an outer link whose inner ``[[`` fails) is read as text instead.
"""

from __future__ import annotations

import re

from mwparserfromhell.definitions import URI_SCHEMES

from scoring.wikitext import RETRY_BUDGET

__all__ = ["CHUNK_CHARS", "RETRY_BUDGET", "chunk_bounds", "neutralise", "restore"]

# Texts longer than this are parsed in pieces of about this size, cut only where no construct is open.
CHUNK_CHARS = 300_000
# A matched pair spanning more than this is taken for a stray opener paired with a far-away closer
# (e.g. an unclosed <div> with the </div> of a later section) and does not prevent a cut.
MAX_CONSTRUCT_CHARS = 1_000_000

_SENTINELS = {"{": "\ufdd0", "[": "\ufdd1", "<": "\ufdd2"}
_RESTORE = str.maketrans({v: k for k, v in _SENTINELS.items()})
_SENTINEL_CHARS = frozenset(_SENTINELS.values())

_BRACES = re.compile(r"\{\{|\}\}")
_BRACKETS = re.compile(r"\[\[|\]\]")
_TABLES = re.compile(r"^[ \t]*(\{\||\|\})", re.MULTILINE)
_TAGS = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)(?=[\s/>])[^<>]*?(/?)>")
_VOID_TAGS = frozenset({"br", "wbr", "hr", "meta", "link", "img", "li", "dt", "dd", "th", "td", "tr"})
_SCHEMES = "|".join(sorted((re.escape(s) for s in URI_SCHEMES), key=len, reverse=True))
_EXTERNAL = re.compile(rf"\[(?=(?:{_SCHEMES}):|//)[^\]\n]*(?=\n|$)", re.IGNORECASE)
_COMMENT_OPEN = "<!--"
_COMMENT_CLOSE = "-->"


class _Pairs:
    """Innermost-first matching of openers and closers: ``spans`` of matched pairs, ``unclosed``
    positions of openers that never close."""

    def __init__(self) -> None:
        self.spans: list[tuple[int, int]] = []
        self.unclosed: list[int] = []

    def match(self, pattern: re.Pattern[str], text: str, opener: str) -> None:
        stack: list[int] = []
        for m in pattern.finditer(text):
            group = m.lastindex or 0
            if m.group(group) == opener:
                stack.append(m.start(group))
            elif stack:
                self.spans.append((stack.pop(), m.end(group)))
        self.unclosed += stack

    def match_tags(self, text: str) -> None:
        stacks: dict[str, list[int]] = {}
        for m in _TAGS.finditer(text):
            closing, name, self_closing = m.group(1), m.group(2).lower(), m.group(3)
            if self_closing or name in _VOID_TAGS:
                continue
            stack = stacks.setdefault(name, [])
            if not closing:
                stack.append(m.start())
            elif stack:
                self.spans.append((stack.pop(), m.end()))
        for stack in stacks.values():
            self.unclosed += stack

    def match_comments(self, text: str) -> None:
        start = text.find(_COMMENT_OPEN)
        while start != -1:
            end = text.find(_COMMENT_CLOSE, start + len(_COMMENT_OPEN))
            if end == -1:
                self.unclosed.append(start)
                start = text.find(_COMMENT_OPEN, start + 1)
                continue
            self.spans.append((start, end + len(_COMMENT_CLOSE)))
            start = text.find(_COMMENT_OPEN, end + len(_COMMENT_CLOSE))


def _pairs(text: str) -> _Pairs:
    pairs = _Pairs()
    pairs.match(_BRACES, text, "{{")
    pairs.match(_BRACKETS, text, "[[")
    pairs.match(_TABLES, text, "{|")
    pairs.match_tags(text)
    pairs.match_comments(text)
    pairs.unclosed += [m.start() for m in _EXTERNAL.finditer(text)]
    return pairs


def neutralise(text: str) -> str:
    """``text`` itself, or a same-length copy whose unclosed openers start with a sentinel (see the
    module docstring). Text already holding a sentinel character is returned unchanged."""
    if len(text) < 2 or _SENTINEL_CHARS.intersection(text):
        return text
    positions = _pairs(text).unclosed
    if len(positions) * len(text) <= RETRY_BUDGET:
        return text
    chars = list(text)
    for pos in positions:
        chars[pos] = _SENTINELS[chars[pos]]
    return "".join(chars)


_BOUNDARY = re.compile(r"\n(?==)|\n\n")  # before a heading line, or a blank line


def chunk_bounds(text: str) -> list[int]:
    """Cut points (ascending, ending with ``len(text)``) splitting ``text`` into pieces of roughly
    ``CHUNK_CHARS`` that can be parsed separately: each cut is before a heading line or after a blank
    line, and outside every matched construct (up to ``MAX_CONSTRUCT_CHARS`` long), so no template,
    link, table, tag or comment is cut. A text of at most ``CHUNK_CHARS`` is one piece."""
    if len(text) <= CHUNK_CHARS:
        return [len(text)]
    blocked = sorted(span for span in _pairs(text).spans if span[1] - span[0] <= MAX_CONSTRUCT_CHARS)
    cuts: list[int] = []
    last = 0
    covered_to = 0  # end of the union of blocked spans that start before the candidate
    span_index = 0
    for m in _BOUNDARY.finditer(text):
        cut = m.end()
        while span_index < len(blocked) and blocked[span_index][0] < cut:
            covered_to = max(covered_to, blocked[span_index][1])
            span_index += 1
        if cut - last >= CHUNK_CHARS and covered_to <= cut:
            cuts.append(cut)
            last = cut
    if not cuts or cuts[-1] != len(text):
        cuts.append(len(text))
    return cuts


def restore(value: str) -> str:
    """Undo ``neutralise`` in a string taken from the parse tree."""
    return value.translate(_RESTORE)
