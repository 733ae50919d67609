"""scoring.tokenize: sentences, tokens, n-grams and word boundaries per language, exact spans."""

from __future__ import annotations

import pytest

from scoring.native import build_anchor_index
from scoring.tokenize import (
    at_word_boundary,
    is_spaceless,
    anchor_hits,
    sentence_spans,
    sentences,
    word_spans,
)


def _texts(text: str, spans) -> list[str]:  # type: ignore[no-untyped-def]
    return [text[s[0] : s[1]] for s in spans]


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("en", "Berlin is big. The U.S. army went to New York City! Dr. Smith came.",
         ["Berlin is big. ", "The U.S. army went to New York City! ", "Dr. Smith came."]),
        ("mr", "हा एक वाक्य आहे। हे दुसरे आहे।", ["हा एक वाक्य आहे। ", "हे दुसरे आहे।"]),
        ("hy", "Սա նախադասություն է։ Սա երկրորդն է։", ["Սա նախադասություն է։ ", "Սա երկրորդն է։"]),
        ("ja", "東京は首都である。大阪は「商都」である。次", ["東京は首都である。", "大阪は「商都」である。", "次"]),
        ("el", "Τι είναι; Είναι π.χ. ένα τεστ.", ["Τι είναι; ", "Είναι π.χ. ένα τεστ."]),
        ("uk", "Це речення. А. Б. Шевченко тут.", ["Це речення. ", "А. Б. Шевченко тут."]),
        ("en", 'He said "Go." Then left.', ['He said "Go." ', "Then left."]),
        ("en", "line one\n\n  \nline two", ["line one", "line two"]),
        ("en", "", []),
        # A language code with no abbreviation list in scoring/data: initials still do not end a sentence.
        ("xx", "Das ist Passau. A. B. Meier wohnt dort. Gut.", ["Das ist Passau. ", "A. B. Meier wohnt dort. ", "Gut."]),
    ],
)
def test_sentences(language: str, text: str, expected: list[str]) -> None:
    assert _texts(text, sentence_spans(text, language)) == expected


def test_semicolon_ends_a_sentence_only_in_greek() -> None:
    assert len(sentence_spans("One; two", "en")) == 1
    assert len(sentence_spans("Ένα; δύο", "el")) == 2


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("en", "Berlin, Germany (U.S.) isn't 40.123 C++ anti-war...", ["Berlin", "Germany", "U.S", "isn't",
                                                                    "40.123", "C++", "anti-war"]),
        ("en", "Dr. Who", ["Dr.", "Who"]),
        ("vi", "Hà Nội là thủ đô.", ["Hà", "Nội", "là", "thủ", "đô"]),
        ("mr", "गोदावरी नदी, महाराष्ट्र", ["गोदावरी", "नदी", "महाराष्ट्र"]),
        ("ja", "東京都（とうきょうと）は、日本の首都。iPhone 15", ["東京", "都", "とうきょう", "と", "は", "日本",
                                                            "の", "首都", "iPhone", "15"]),
        ("zh", "北京是首都。", ["北", "京", "是", "首", "都"]),
    ],
)
def test_word_spans(language: str, text: str, expected: list[str]) -> None:
    assert _texts(text, word_spans(text, language)) == expected


def test_tokens_are_exact_and_never_whitespace() -> None:
    text = "Ａ　全角。  spaced\ttab  ｘ"
    for sentence in sentences(text, "ja"):
        for token in sentence.tokens:
            piece = text[token.start : token.end]
            assert piece and not piece.isspace() and piece == piece.strip()


def _hits(text: str, keys: list[str], language: str = "en") -> list[str]:
    index = build_anchor_index(sorted({k.lower() for k in keys}))
    return [text[s:e] for s, e, _, _ in anchor_hits(text, language, index)]


def test_ngram_order_matches_mwaddlink() -> None:
    # reference mwaddlink.md §2.4: n descending, left to right, punctuation tokens count.
    text = "Berlin, Germany is big. "
    expected = ["Berlin, Germany is big", ", Germany is big.", "Berlin, Germany", ", Germany is", "Germany is big",
                "is big.", "Berlin,", ","]
    assert _hits(text, expected[::-1]) == expected


def test_ngrams_stay_inside_sentences_and_lines() -> None:
    text = "Alpha beta. Gamma\ndelta"
    assert _hits(text, ["beta. Gamma", "Gamma\ndelta", "Alpha beta."]) == ["Alpha beta."]


def test_at_most_five_tokens() -> None:
    assert _hits("a b c d e f g", ["a b c d e f", "b c d e f", "a b"]) == ["b c d e f", "a b"]


@pytest.mark.parametrize(
    ("text", "start", "end", "expected"),
    [
        ("Lorem xanchor1 dolor anchor1", 7, 14, False),
        ("Lorem xanchor1 dolor anchor1", 21, 28, True),
        ("an anti-war march", 8, 11, False),
        ("an anti-war march", 3, 11, True),
        ("learn C++ now", 6, 7, False),
        ("(Paris) is", 1, 6, True),
        ("Paris, France", 0, 5, True),
        ("गोदावरी नदी", 0, 4, False),  # would cut before a vowel sign
        ("云：「安南為西京。」由廈門", 0, 10, True),  # "。」" ends a sentence without a space
        ("云：「安南為西京。」由廈門", 0, 8, True),
        ("x", 0, 0, False),
    ],
)
def test_at_word_boundary_whitespace_languages(text: str, start: int, end: int, expected: bool) -> None:
    assert at_word_boundary(text, start, end, "en") is expected


def test_at_word_boundary_japanese_uses_tokens() -> None:
    text = "日本の首都は東京都です。"
    assert at_word_boundary(text, 0, 2, "ja")  # 日本
    assert not at_word_boundary(text, 0, 1, "ja")  # 日
    assert at_word_boundary(text, 6, 8, "ja")  # 東京 in 東京都: MeCab splits 東京|都
    assert is_spaceless("ja") and not is_spaceless("el")


@pytest.mark.parametrize("language", ["en", "ja", "zh"])
def test_long_runs_without_spaces_are_bounded(language: str) -> None:
    text = ("あいうえお" if language != "en" else "abcde") * 100_000
    tokens = [t for s in sentences(text, language) for t in s.tokens]
    assert tokens[0].start == 0 and tokens[-1].end == len(text)
    assert all(text[t.start : t.end] for t in tokens)
