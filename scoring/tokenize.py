"""Sentences, word tokens and n-grams per language, as code-point spans into the text given.

Semantics follow mwaddlink v2 (which uses mwtokenizer 0.2.0), re-implemented so that every span is
exact; the scanning runs in the native engine (``scoring.native``, crate ``native/src/text``), with the
rule tables and character classes given from here, computed by Python, so Python's notion of white
space, letters and punctuation is the rule. (mwtokenizer walks characters in Python, ~1 us/char, and its
Japanese path normalises text with NFKC and adds a leading space, so its tokens cannot be mapped back
to offsets.) The former pure-Python scanner is the differential tests' oracle (tests/unit/oracle_tokenize.py).

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
from collections.abc import Iterator, Sequence
from functools import lru_cache
from importlib.resources import files
from typing import NamedTuple

from scoring import native

__all__ = [
    "Sentence",
    "anchor_hits",
    "Token",
    "at_word_boundary",
    "ends_sentence",
    "is_spaceless",
    "is_word_char",
    "run_anchor_hits",
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


# Spaceless scripts other than Japanese get one token per character of these ranges.
_SPACELESS_RANGES = (
    (0x0E00, 0x0EFF), (0x0F00, 0x0FFF), (0x1000, 0x109F), (0x1780, 0x17FF), (0x2E80, 0x2FDF), (0x3040, 0x30FF),
    (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F),
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

MAX_N = 5  # mwaddlink's longest n-gram
# MeCab's lattice grows with its input; very long sentences are cut into pieces of at most this.
_MAX_SEGMENT = 4096


@lru_cache(maxsize=1)
def _all_abbreviations() -> dict[str, list[str]]:
    raw = files("scoring").joinpath("data/abbreviations.json.gz").read_bytes()
    return json.loads(gzip.decompress(raw))


@lru_cache(maxsize=64)
def _abbreviations(language: str) -> frozenset[str]:
    return frozenset(_all_abbreviations().get(language.replace("-", "_") + "wiki", ()))


@lru_cache(maxsize=1)
def _tagger():  # type: ignore[no-untyped-def]
    import fugashi  # imported lazily: only Japanese needs MeCab

    # Plain "wakati" output (surfaces separated by " ") is ~30% faster than building node objects.
    return fugashi.Tagger("-Owakati")


@lru_cache(maxsize=1)
def _char_classes() -> native.CharClasses:
    """Python's own classes of every BMP character: 1 white space (``\\s``, i.e. ``str.isspace``),
    2 punctuation (``_PUNCTUATION``), 4 spaceless script. Built with C-speed scans (a few ms), since
    each new scoring process pays it on its first page."""
    flags = bytearray(0x10000)
    for match in re.finditer(r"\s", "".join(map(chr, range(0x10000)))):
        flags[match.start()] |= 1
    for char in _PUNCTUATION:
        flags[ord(char)] |= 2
    for first, last in _SPACELESS_RANGES:
        for point in range(first, min(last, 0xFFFF) + 1):
            flags[point] |= 4
    return native.CharClasses(bytes(flags), [r for r in _SPACELESS_RANGES if r[0] > 0xFFFF])


@lru_cache(maxsize=64)
def _tokenizer(language: str) -> native.Tokenizer:
    return native.Tokenizer(
        _char_classes(),
        terminators=_TERMINATORS + _LANGUAGE_TERMINATORS.get(language, ""),
        no_space=_TERMINATORS_NO_SPACE,
        closers=_CLOSERS,
        abbreviations=sorted(_abbreviations(language)),
        charwise=language in _SPACELESS,
    )


def sentence_spans(text: str, language: str) -> list[tuple[int, int]]:
    """Sentence spans of ``text`` in order; see the module docstring."""
    return _tokenizer(language).sentence_spans(text)


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


def _japanese_sentences(text: str) -> list[tuple[int, int, list[tuple[int, int, bool]]]]:
    """Sentences of Japanese ``text`` with MeCab's words, placed on the text by the native engine
    (``Tokenizer.align_parsed``; tests/unit/oracle_tokenize.py holds the Python definition)."""
    spans = sentence_spans(text, _JAPANESE)
    return _tokenizer(_JAPANESE).align_parsed(text, spans, _mecab_segments(text, spans))


def _mecab_segments(text: str, spans: list[tuple[int, int]]) -> list[list[tuple[int, int, str]]]:
    """MeCab's output for each segment of each sentence span of ``text``: one call per segment."""
    tagger = _tagger()
    return [[(s, e, tagger.parse(text[s:e])) for s, e in _segments(text, start, end)] for start, end in spans]


def sentences(text: str, language: str) -> list[Sentence]:
    """Sentences of ``text`` with their tokens (whitespace excluded), in order."""
    if language == _JAPANESE:
        found = _japanese_sentences(text)
    else:
        found = _tokenizer(language).sentences(text)
    return [Sentence(start, end, tuple(Token(*t) for t in tokens)) for start, end, tokens in found if tokens]


def anchor_hits(text: str, language: str, index: native.AnchorIndex, *, markup_filter: bool = False,
                glued_before: bool = False, glued_after: bool = False) -> list[tuple[int, int, int, int]]:
    """``(start, end, sentence number, anchor index)`` of every n-gram (n = MAX_N..1 per sentence, left
    to right) whose lowercased surface is a key of ``index``, walked in the native engine. With
    ``markup_filter``, n-grams containing ``''`` and word characters at a run edge glued to markup
    (``glued_before``/``glued_after``) are left out."""
    hits = run_anchor_hits(text, [(0, len(text), glued_before, glued_after)], language, index, markup_filter=markup_filter)
    return [hit[1:] for hit in hits]


def run_anchor_hits(text: str, runs: Sequence[tuple[int, int, bool, bool]], language: str, index: native.AnchorIndex,
                    *, markup_filter: bool = False) -> list[tuple[int, int, int, int, int]]:
    """``anchor_hits`` of several runs of ``text`` (``(start, end, glued_before, glued_after)``) in one
    native call: ``(run number, start, end, sentence number, anchor index)``, offsets relative to the run."""
    tokenizer = _tokenizer(language)
    if language != _JAPANESE:
        return tokenizer.run_hits(text, list(runs), index, max_n=MAX_N, markup_filter=markup_filter)
    # MeCab runs once per sentence segment of each run (its lattice depends on its input); its output
    # goes to the native engine as text, which places the words and walks the page in one call.
    spans = tokenizer.run_sentence_spans(text, [(start, end) for start, end, _, _ in runs])
    parsed = [(run_spans, _mecab_segments(text[start:end], run_spans))
              for (start, end, _, _), run_spans in zip(runs, spans)]
    return tokenizer.run_hits(text, list(runs), index, max_n=MAX_N, parsed=parsed, markup_filter=markup_filter)


def word_spans(text: str, language: str) -> list[tuple[int, int]]:
    """Spans of word tokens (not whitespace, not punctuation-only), in order."""
    return [(t.start, t.end) for s in sentences(text, language) for t in s.tokens if t.is_word]


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
