"""Sentences, word tokens and n-grams per language, as code-point spans into the text given.

Semantics follow mwaddlink v2 (which uses mwtokenizer 0.2.0), re-implemented so that every span is
exact and the whole thing runs in C regexes (mwtokenizer walks characters in Python, ~1 us/char, and
its Japanese path normalises text with NFKC and adds a leading space, so its tokens cannot be mapped
back to offsets):

- Lines (split on "\\n") never share a sentence; whitespace-only lines have none. A sentence ends after
  a terminator (``. ! ? । ॥ ։ ؟ ۔ ። …``, and ``;`` — the Greek question mark — for el) plus any closing
  quotes/brackets, followed by whitespace; after ``。！？｡`` no whitespace is needed. Like mwtokenizer, a
  split is undone when the sentence's last word is an abbreviation of the wiki (mwtokenizer's lists,
  ``scoring/data``) or a single letter plus ".". Sentence spans include trailing whitespace.
- Whitespace languages: a token is a run of punctuation (Unicode category P) or a word: non-space,
  non-punctuation characters with punctuation allowed inside ("U.S", "40.123", "anti-war", "C++").
  Punctuation at a word's edges is its own token unless word+punctuation is an abbreviation ("Dr.").
- Japanese: MeCab (fugashi + unidic-lite, the dictionary ships in the wheel) per sentence.
  Other spaceless scripts (zh, th, lo, km, my, bo, ...): one token per character of those scripts.
- Whitespace is never a token (mwaddlink treats a multi-space run as a word; that is not kept).

n-grams: per sentence, n = max_n..1, left to right, over all tokens (punctuation tokens count, as
in mwaddlink, so "Berlin, Germany" is a 3-gram).
"""

from __future__ import annotations

import gzip
import json
import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from importlib.resources import files
from typing import NamedTuple

__all__ = [
    "Sentence",
    "Token",
    "at_word_boundary",
    "ends_sentence",
    "is_spaceless",
    "is_word_char",
    "ngram_spans",
    "sentence_spans",
    "sentences",
    "word_spans",
]


class Token(NamedTuple):
    start: int
    end: int
    is_word: bool  # False for a punctuation-only token


class Sentence(NamedTuple):
    start: int
    end: int
    tokens: tuple[Token, ...]


# Unicode category P in the Basic Multilingual Plane. Astral punctuation (historic scripts, Adlam) is
# left out on purpose: one astral character in a regex class makes Python's re scan the class
# linearly, about 9x slower on every character of every article.
_PUNCTUATION = frozenset(chr(c) for c in range(0x10000) if unicodedata.category(chr(c)).startswith("P"))


def _char_class(chars: frozenset[str]) -> str:
    """A compact regex class body (ranges of consecutive code points) for ``chars``."""
    points = sorted(map(ord, chars))
    parts: list[str] = []
    first = last = points[0]
    for point in [*points[1:], -1]:
        if point == last + 1:
            last = point
            continue
        parts.append(re.escape(chr(first)) + ("" if first == last else "-" + re.escape(chr(last))))
        first = last = point
    return "".join(parts)


_P = _char_class(_PUNCTUATION)
_TOKEN = re.compile(rf"(?P<p>[{_P}]+)|[^\s{_P}]+(?:[{_P}]+[^\s{_P}]+)*")

# Spaceless scripts other than Japanese get one token per character of these ranges.
_SPACELESS_CHARS = (
    "\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u2e80-\u2fdf\u3040-\u30ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
)
_TOKEN_CHARWISE = re.compile(
    rf"(?P<p>[{_P}]+)|[{_SPACELESS_CHARS}]|[^\s{_P}{_SPACELESS_CHARS}]+(?:[{_P}]+[^\s{_P}{_SPACELESS_CHARS}]+)*"
)
_JAPANESE = "ja"
_SPACELESS = frozenset(
    {"zh", "zh-yue", "zh_yue", "wuu", "gan", "lzh", "zh-classical", "zh_classical", "zh-min-nan",
     "zh_min_nan", "th", "lo", "km", "my", "bo", "dz"}
)

_TERMINATORS = (
    ".!?\u2026\u0589\u061f\u06d4\u0964\u0965\u1362\u1367\u1368\u104b\u17d4\u17d5\u1803\u1809"
    "\u203c\u203d\u2047\u2048\u2049\u0f0d\ua4ff\ua60e\ua60f\ua6f3\ua6f7\ua8ce\ua8cf\ua9c8\ua9c9"
)
_TERMINATORS_NO_SPACE = "\u3002\uff01\uff1f\uff61\uff0e\ufe12\ufe52\ufe56\ufe57\u0f0e"
_CLOSERS = "\"'\u00bb\u2019\u201d\u203a\u300d\u300f\u3011\uff09\uff3d\uff5d)\\]}"
_LANGUAGE_TERMINATORS = {"el": ";"}

# MeCab's lattice grows with its input; very long sentences are cut into pieces of at most this.
_MAX_SEGMENT = 4096


@lru_cache(maxsize=64)
def _sentence_end(language: str) -> re.Pattern[str]:
    terminators = re.escape(_TERMINATORS + _LANGUAGE_TERMINATORS.get(language, ""))
    return re.compile(
        rf"[{terminators}][{re.escape(_CLOSERS)}]*[^\S\n]+|[{re.escape(_TERMINATORS_NO_SPACE)}]"
        rf"[{re.escape(_CLOSERS)}]*[^\S\n]*"
    )


@lru_cache(maxsize=1)
def _all_abbreviations() -> dict[str, list[str]]:
    raw = files("scoring").joinpath("data/abbreviations.json.gz").read_bytes()
    return json.loads(gzip.decompress(raw))


@lru_cache(maxsize=64)
def _abbreviations(language: str) -> frozenset[str]:
    return frozenset(_all_abbreviations().get(language.replace("-", "_") + "wiki", ()))


def _is_abbreviation(word: str, abbreviations: frozenset[str]) -> bool:
    if word in abbreviations:
        return True
    return len(word) == 2 and word[1] == "." and word[0].isalpha()


@lru_cache(maxsize=1)
def _tagger():  # type: ignore[no-untyped-def]
    import fugashi  # imported lazily: only Japanese needs MeCab

    # Plain "wakati" output (surfaces separated by " ") is ~30% faster than building node objects.
    return fugashi.Tagger("-Owakati")


def _line_spans(text: str) -> Iterator[tuple[int, int]]:
    start = 0
    for line in text.split("\n"):
        end = start + len(line)
        if line and not line.isspace():
            yield start, end
        start = end + 1


def sentence_spans(text: str, language: str) -> list[tuple[int, int]]:
    """Sentence spans of ``text`` in order; see the module docstring."""
    abbreviations = _abbreviations(language)
    pattern = _sentence_end(language)
    spans: list[tuple[int, int]] = []
    for line_start, line_end in _line_spans(text):
        cut = line_start
        for match in pattern.finditer(text, line_start, line_end):
            end = match.end()
            if end == line_end or end == cut:
                continue
            words = text[cut:end].rsplit(maxsplit=1)
            if words and _is_abbreviation(words[-1], abbreviations):
                continue
            spans.append((cut, end))
            cut = end
        spans.append((cut, line_end))
    return spans


def _whitespace_tokens(text: str, start: int, end: int, pattern: re.Pattern[str],
                       abbreviations: frozenset[str]) -> list[Token]:
    tokens: list[Token] = []
    for match in pattern.finditer(text, start, end):
        s, e = match.span()
        is_punct = match.lastgroup == "p"
        if is_punct and tokens and tokens[-1].end == s and tokens[-1].is_word:
            previous = tokens[-1]
            if _is_abbreviation(text[previous.start : e], abbreviations):
                tokens[-1] = Token(previous.start, e, True)
                continue
        tokens.append(Token(s, e, not is_punct))
    return tokens


def _segments(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while end - start > _MAX_SEGMENT:
        window = text[start : start + _MAX_SEGMENT]
        cut = max(window.rfind(" "), window.rfind("\u3001"), window.rfind("\u3000"))
        cut = start + (cut + 1 if cut > 0 else _MAX_SEGMENT)
        yield start, cut
        start = cut
    yield start, end


def ends_sentence(text: str, language: str) -> bool:
    """True when ``text`` ends with a sentence terminator (closing quotes or brackets and whitespace
    may follow): a whole sentence, not a line cut off by markup."""
    stripped = text.rstrip().rstrip(_CLOSERS)
    terminators = _TERMINATORS + _TERMINATORS_NO_SPACE + _LANGUAGE_TERMINATORS.get(language, "")
    return bool(stripped) and stripped[-1] in terminators


def _japanese_tokens(text: str, start: int, end: int) -> list[Token]:
    tagger = _tagger()
    tokens: list[Token] = []
    for seg_start, seg_end in _segments(text, start, end):
        pos = seg_start
        for surface in tagger.parse(text[seg_start:seg_end]).split(" "):
            if not surface or surface.isspace():
                continue
            if not text.startswith(surface, pos):
                # MeCab dropped white space (or a character it ignores) before this surface.
                found = text.find(surface, pos, seg_end)
                if found == -1:
                    continue
                pos = found
            end_pos = pos + len(surface)
            is_word = not (surface[0] in _PUNCTUATION and all(c in _PUNCTUATION for c in surface))
            tokens.append(Token(pos, end_pos, is_word))
            pos = end_pos
    return tokens


def sentences(text: str, language: str) -> list[Sentence]:
    """Sentences of ``text`` with their tokens (whitespace excluded), in order."""
    result: list[Sentence] = []
    abbreviations = _abbreviations(language)
    for start, end in sentence_spans(text, language):
        if language == _JAPANESE:
            tokens = _japanese_tokens(text, start, end)
        elif language in _SPACELESS:
            tokens = _whitespace_tokens(text, start, end, _TOKEN_CHARWISE, abbreviations)
        else:
            tokens = _whitespace_tokens(text, start, end, _TOKEN, abbreviations)
        if tokens:
            result.append(Sentence(start, end, tuple(tokens)))
    return result


def word_spans(text: str, language: str) -> list[tuple[int, int]]:
    """Spans of word tokens (not whitespace, not punctuation-only), in order."""
    return [(t.start, t.end) for s in sentences(text, language) for t in s.tokens if t.is_word]


def sentence_ngrams(sentence: Sentence, max_n: int = 5) -> Iterator[tuple[int, int, int]]:
    """(start, end, n) for one sentence: n = max_n..1, left to right."""
    tokens = sentence.tokens
    for n in range(min(max_n, len(tokens)), 0, -1):
        for i in range(len(tokens) - n + 1):
            yield tokens[i].start, tokens[i + n - 1].end, n


def ngram_spans(text: str, language: str, max_n: int = 5) -> Iterator[tuple[int, int, int]]:
    """(start, end, n) per sentence, n descending, left to right (mwaddlink's order)."""
    for sentence in sentences(text, language):
        yield from sentence_ngrams(sentence, max_n)


def is_spaceless(language: str) -> bool:
    """Whether words of ``language`` are not separated by spaces (token boundaries are word edges)."""
    return language == _JAPANESE or language in _SPACELESS


def is_word_char(char: str) -> bool:
    """Neither white space nor punctuation (letters, marks, digits, symbols such as "+" or "$")."""
    return not char.isspace() and char not in _PUNCTUATION


def _word_on_side(text: str, pos: int, step: int) -> bool:
    """From ``pos`` going in ``step`` direction, skip punctuation; is the next character a word char?
    A sentence end that needs no space ("。") separates like a space does."""
    while 0 <= pos < len(text):
        char = text[pos]
        if char.isspace() or char in _TERMINATORS_NO_SPACE:
            return False
        if char not in _PUNCTUATION:
            return True
        pos += step
    return False


def _splits_word(text: str, pos: int) -> bool:
    return _word_on_side(text, pos - 1, -1) and _word_on_side(text, pos, 1)


def at_word_boundary(text: str, start: int, end: int, language: str) -> bool:
    """Whether ``text[start:end]`` is not part of a longer word. Whitespace languages: neither edge
    has word characters on both sides (punctuation between word characters, as in "anti-war", joins
    them). Japanese and other spaceless scripts: both edges are token boundaries of the sentence."""
    if not 0 <= start < end <= len(text):
        return False
    if is_spaceless(language):
        return _token_boundaries_hold(text, start, end, language)
    return not _splits_word(text, start) and not _splits_word(text, end)


def _token_boundaries_hold(text: str, start: int, end: int, language: str) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end == -1 else line_end
    starts, ends = _token_edges(text[line_start:line_end], language)
    return start - line_start in starts and end - line_start in ends


@lru_cache(maxsize=256)
def _token_edges(line: str, language: str) -> tuple[frozenset[int], frozenset[int]]:
    """Token start and end offsets of one line (cached: callers check many spans of one line)."""
    tokens = [t for sentence in sentences(line, language) for t in sentence.tokens]
    return frozenset(t.start for t in tokens), frozenset(t.end for t in tokens)
