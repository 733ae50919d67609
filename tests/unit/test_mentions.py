"""scoring.mentions: discovery order, exact placement, word boundaries and the editor's match_index."""

from __future__ import annotations

from collections.abc import Iterable

from scoring.mentions import Mention, editor_match_indices, find_mentions
from scoring.native import build_anchor_index
from scoring.wikitext import parse_article


def _mentions(text: str, anchors: Iterable[str], *, language: str = "en",
              excluded: Iterable[str] = ()) -> list[Mention]:
    index = build_anchor_index(sorted(set(anchors)))
    return list(find_mentions(parse_article(text), language=language, title="Page", excluded_sections=list(excluded),
                              anchors=index))


def _placed(text: str, anchors: Iterable[str], **kw) -> list[tuple[str, int, int]]:  # type: ignore[no-untyped-def]
    mentions = _mentions(text, anchors, **kw)
    for m in mentions:
        assert text[m.wikitext_offset : m.wikitext_offset + len(m.text)] == m.text
    return [(m.text, m.wikitext_offset, m.match_index) for m in mentions]


def test_discovery_order_longest_first_within_a_sentence() -> None:
    # reference mwaddlink.md §2.10: "New York City" is discovered before "army" in the same sentence.
    assert _placed("The army went to New York City!", {"army", "new york city"}) == [
        ("New York City", 17, 0), ("army", 4, 0)
    ]


def test_never_inside_a_longer_word_but_counted_like_the_editor() -> None:
    # mwaddlink v2 links "x[[..|anchor1]]"; we take the whole word, and the editor's substring
    # count makes it the second match.
    assert _placed("Lorem xanchor1 dolor anchor1", {"anchor1"}) == [("anchor1", 21, 1)]


def test_case_sensitive_surface_and_count() -> None:
    m = _mentions("Artemis likes art. Art is fun.", {"art"})
    assert [(x.text, x.key, x.wikitext_offset, x.match_index) for x in m] == [("art", "art", 14, 0)]


def test_each_key_once_at_first_occurrence() -> None:
    assert _placed("Paris is big. Paris is old. paris", {"paris"}) == [("Paris", 0, 0)]


def test_context_is_ten_characters_from_the_run() -> None:
    [m] = _mentions("{{T}}Short. The quick brown fox jumps over", {"brown"})
    assert (m.context_before, m.context_after) == ("The quick ", " fox jumps")
    [m] = _mentions("[[A]] fox {{T}}", {"fox"})
    assert (m.context_before, m.context_after) == (" ", " ")


def test_only_top_level_text() -> None:
    text = "{{Infobox|x=anchor}} ''anchor'' [[anchor]] <ref>anchor</ref> <!-- anchor --> == h ==\nanchor"
    assert _placed(text, {"anchor"}) == [("anchor", len(text) - 6, 0)]


def test_glued_markup_is_not_a_word_boundary() -> None:
    # The trail "foo" renders inside the link, so the editor does not count it either.
    assert _placed("[[X]]foo bar foo", {"foo"}) == [("foo", 13, 0)]
    # "ness" after bold renders as "Boldness"; the editor still counts it (text outside <b>).
    assert _placed("'''Bold'''ness and ness", {"ness"}) == [("ness", 19, 1)]
    assert _placed("x{{lang|en|y}}ship ship", {"ship"}) == [("ship", 19, 1)]


def test_editor_counts_inside_span_small_but_not_bold_or_refs() -> None:
    text = "<small>anchor</small> <b>anchor</b> <ref>anchor</ref> <span>a <u>anchor</u></span> then anchor"
    assert _placed(text, {"anchor"}) == [("anchor", len(text) - 6, 2)]


def test_excluded_sections() -> None:
    text = "lead anchor\n== Refs ==\nanchor\n=== Sub ===\nanchor\n== Other ==\nanchor"
    placed = _placed(text, {"anchor"}, excluded=["%LEAD%", " REFS "])
    # Sub-sections are not excluded; occurrences in excluded sections still count for match_index.
    assert placed == [("anchor", text.index("Sub ===\nanchor") + 8, 2)]
    assert _placed(text, {"anchor"}, excluded=["%lead%"])[0][1] == 5  # "%LEAD%" is case-sensitive


def test_japanese_token_boundaries() -> None:
    placed = _placed("日本の首都は東京都です。東京", {"東京", "首都", "京都"}, language="ja")
    assert placed == [("首都", 3, 0), ("東京", 6, 0)]  # 京都 straddles MeCab's 東京|都


def test_mention_that_the_scan_cannot_reach_is_skipped() -> None:
    # The editor's scan for "a a" matches inside "xa a" (offset 1) and resumes after it, so the
    # whole-word "a a" at offset 3 is never a match; the next reachable occurrence is used.
    assert _placed("xa a a", {"a a"}) == []
    assert _placed("xa a a. Then a a", {"a a"}) == [("a a", 13, 1)]


def test_editor_match_indices_with_competing_phrases() -> None:
    article = parse_article("New York and York")
    # Alone, "York" at 13 is the second match; with "New York" also suggested the alternation
    # consumes "New York" first, so the editor sees "York" at 13 as the first one.
    assert _placed("New York and York", {"york"})[0] == ("York", 4, 0)
    assert editor_match_indices(article, [("York", 13), ("New York", 0)]) == [0, 0]
    # "New" wins at offset 0, so "New York" can never be annotated.
    assert editor_match_indices(article, [("New", 0), ("New York", 0)]) == [0, None]


def test_editor_match_indices_phrase_leaves_the_race_once_found() -> None:
    article = parse_article("ab b ab b")
    # Once "ab" (offset 0) is found the regex is rebuilt without it; the second "ab" then yields
    # its "b" to the scan for "b".
    assert editor_match_indices(article, [("ab", 0), ("b", 8)]) == [0, 2]


def test_editor_match_indices_javascript_key_order() -> None:
    article = parse_article("In 2004 Paris 2004")
    # Integer-like keys come first in a JavaScript object whatever the insertion order.
    assert editor_match_indices(article, [("Paris", 8), ("2004", 14)]) == [0, 1]


def test_editor_match_indices_outside_editor_text() -> None:
    article = parse_article("{{T|Paris}} Paris")
    assert editor_match_indices(article, [("Paris", 4), ("Paris", 12)]) == [None, 0]
