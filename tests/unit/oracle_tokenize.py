"""The pure-Python tokenizer that scoring/tokenize.py ran before the native engine, kept only as the
test oracle of the differential tests (test_native_differential.py). Same rules, written as regexes
over code points; the rule tables (terminators, closers, abbreviations, spaceless scripts) are
scoring.tokenize's own, so only the scanning differs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache

from scoring.tokenize import (
    _CLOSERS,
    MAX_N,
    _JAPANESE,
    _LANGUAGE_TERMINATORS,
    _PUNCTUATION,
    _SPACELESS,
    _SPACELESS_RANGES,
    _TERMINATORS,
    _TERMINATORS_NO_SPACE,
    Sentence,
    Token,
    _abbreviations,
    _segments,
    _tagger,
    is_word_char,
)
from scoring.titles import normalise_anchor


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
_SPACELESS_CHARS = "".join(re.escape(chr(a)) + "-" + re.escape(chr(b)) for a, b in _SPACELESS_RANGES)
_TOKEN_CHARWISE = re.compile(
    rf"(?P<p>[{_P}]+)|[{_SPACELESS_CHARS}]|[^\s{_P}{_SPACELESS_CHARS}]+(?:[{_P}]+[^\s{_P}{_SPACELESS_CHARS}]+)*"
)


@lru_cache(maxsize=64)
def _sentence_end(language: str) -> re.Pattern[str]:
    terminators = re.escape(_TERMINATORS + _LANGUAGE_TERMINATORS.get(language, ""))
    return re.compile(
        rf"[{terminators}][{re.escape(_CLOSERS)}]*[^\S\n]+|[{re.escape(_TERMINATORS_NO_SPACE)}]"
        rf"[{re.escape(_CLOSERS)}]*[^\S\n]*"
    )


def _is_abbreviation(word: str, abbreviations: frozenset[str]) -> bool:
    if word in abbreviations:
        return True
    return len(word) == 2 and word[1] == "." and word[0].isalpha()


def _line_spans(text: str) -> Iterator[tuple[int, int]]:
    start = 0
    for line in text.split("\n"):
        end = start + len(line)
        if line and not line.isspace():
            yield start, end
        start = end + 1


def sentence_spans(text: str, language: str) -> list[tuple[int, int]]:
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


def _japanese_tokens(text: str, start: int, end: int) -> list[Token]:
    """MeCab's words of text[start:end], placed back on the text (scoring.tokenize did this in Python)."""
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


def sentence_ngrams(sentence: Sentence, max_n: int = MAX_N) -> Iterator[tuple[int, int, int]]:
    tokens = sentence.tokens
    for n in range(min(max_n, len(tokens)), 0, -1):
        for i in range(len(tokens) - n + 1):
            yield tokens[i].start, tokens[i + n - 1].end, n


def word_ngram_keys(texts: Iterable[str], language: str) -> list[str]:
    """Every n-gram key (``normalise_anchor``) of ``texts`` that has a word character, sorted: a
    dictionary in which every word n-gram is an anchor."""
    keys = {
        normalise_anchor(text[start:end])
        for text in texts
        for sentence in sentences(text, language)
        for start, end, _ in sentence_ngrams(sentence)
    }
    return sorted(k for k in keys if any(map(is_word_char, k)))
