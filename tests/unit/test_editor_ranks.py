"""native.editor_ranks (all of a page's phrases in one pass) against the former str.find/str.count
rank (oracle_mentions.rank), on texts of a small alphabet where phrases recur, overlap themselves
("aa", "aba") and each other, and several are asked about at once."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
from oracle_mentions import rank

from scoring.native import editor_ranks


def _oracle(text: str, phrase: str, position: int) -> int | None:
    editor = SimpleNamespace(joined=text, position=lambda offset: offset)
    return rank(editor, phrase, position)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", range(200))
def test_ranks_equal_the_find_scan(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = rng.choice(["ab", "ab \x00", "aβ\U0001f600 ", "abc"])
    text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 80)))
    queries = []
    for _ in range(rng.randrange(1, 30)):
        start = rng.randrange(len(text))
        phrase = text[start : start + rng.randrange(1, 5)]
        # most at an occurrence of the phrase, some anywhere (the phrase is not there: None)
        queries.append((phrase, start if rng.random() < 0.8 else rng.randrange(len(text) + 2)))
    assert editor_ranks(text, queries) == [_oracle(text, phrase, at) for phrase, at in queries]


def test_overlapping_matches() -> None:
    # "aa" in "aaaa" matches at 0 and 2; 1 and 3 are covered by a match, never matched themselves.
    assert editor_ranks("aaaa", [("aa", 0), ("aa", 1), ("aa", 2), ("aa", 3), ("a", 3)]) == [0, None, 1, None, 3]


def test_empty_phrase_is_refused() -> None:
    with pytest.raises(ValueError):
        editor_ranks("abc", [("", 0)])
