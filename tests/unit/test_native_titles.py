"""The native title normalisation (scoring.titles.normalise_title, and every link target the scanner
gives) equals the former Python implementation (oracle_titles.py) character for character."""

from __future__ import annotations

import sys

from hypothesis import given, settings
from hypothesis import strategies as st
from oracle_titles import normalise_title as oracle

from scoring.titles import normalise_title
from scoring.wikitext import parse_article

_SURROGATES = range(0xD800, 0xE000)


def test_every_character_first_and_after_a_space() -> None:
    """Uppercasing (Python's tables, several-character results kept), spaces, strip and direction marks
    of every code point, at the start of a title and inside one."""
    differ = [
        point for point in range(sys.maxunicode + 1)
        if point not in _SURROGATES
        for raw in (chr(point) + "x", "a" + chr(point) + " b")
        if normalise_title(raw) != oracle(raw)
    ]
    assert differ == []


# Escapes that decode to valid and broken UTF-8 (truncated, overlong, surrogate, out of range), and the
# characters the rule treats specially.
_PIECES = st.sampled_from(
    ["%", "%2", "%20", "%C3%A9", "%c3", "%E2%80", "%ED%A0%80", "%F4%90%80%80", "%C0%AF", "%FF", "%25", "%4G",
     "#", ":", "_", " ", "\u00a0", "\u200e", "\u202b", "\u3000", "\x1c", "\x85", "\t", "\n", "é", "ß", "ǆ", "ﬁ",
     "α", "東", "a", "Z", "1", "%e6%9d%b1", "ŉ", "\u1e9e"]
)


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=3)), max_size=12).map("".join))
def test_random_titles(raw: str) -> None:
    assert normalise_title(raw) == oracle(raw)


def test_scanned_link_targets_are_normalised() -> None:
    text = "[[ :foo_bar#x|a]] [[Caf%C3%A9]] [[\u200eßtraße]] [[Κατηγορία:αθήνα]] [[#local]]"
    targets = [link.target for link in parse_article(text).links]
    assert targets == ["Foo bar", "Café", "ßtraße", "Κατηγορία:αθήνα", ""]
    raws = (" :foo_bar#x", "Caf%C3%A9", "\u200eßtraße", "Κατηγορία:αθήνα", "#local")
    assert targets == [oracle(raw) for raw in raws]
