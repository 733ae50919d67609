"""scoring.titles: MediaWiki title normalisation and article-link classification."""

from __future__ import annotations

import pytest

from scoring.namespaces import Namespaces, canonical_namespaces
from scoring.titles import (
    is_article_link,
    is_article_target,
    joined_anchor_keys,
    namespace_prefix,
    normalise_anchor,
    normalise_title,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("foo_bar", "Foo bar"),
        ("  foo   bar  ", "Foo bar"),
        ("foo#Section", "Foo"),
        ("#Section", ""),
        ("", ""),
        ("Caf%C3%A9", "Café"),
        (":Category:Foo", "Category:Foo"),
        ("foo\u00a0bar", "Foo bar"),
        ("\u200efoo", "Foo"),
        ("ßtraße", "ßtraße"),  # uppercase would be two characters: kept, as MediaWiki does
        ("αθήνα", "Αθήνα"),
        ("東京", "東京"),
        ("iPhone", "IPhone"),
    ],
)
def test_normalise_title(raw: str, expected: str) -> None:
    assert normalise_title(raw) == expected


def test_normalise_anchor_is_strip_lower() -> None:
    assert normalise_anchor("  New York ") == "new york"
    assert normalise_anchor("İstanbul") == "i̇stanbul"  # Python lower, like mwaddlink (not locale-aware)


def test_joined_anchor_keys_equal_each_key_joined() -> None:
    # Final sigma reads its neighbours: at the end of a text it stays final, whatever follows the NUL.
    texts = ["ΟΔΟΣ", " ΣΑ ", "αΣ", "Σ", "İstanbul ", "\u2003ΑΣ\u2003", "", "ΣΣ", "x", "Σx"]
    for shift in range(len(texts)):
        turned = texts[shift:] + texts[:shift]
        assert joined_anchor_keys(turned) == "\0".join(map(normalise_anchor, turned))


def test_namespace_prefix() -> None:
    assert namespace_prefix("Category_talk : Foo") == "category talk"
    assert namespace_prefix("Foo") is None


EL = Namespaces.build({6: "Αρχείο", 14: "Κατηγορία"}, {6: ["Εικόνα"]}).prefixes()


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("Berlin", True),
        ("ISO 3166-2:VN", True),  # a colon in an article title
        ("Star Wars: Episode I", True),
        ("File:X.jpg", False),
        ("image:X.jpg", False),  # canonical alias
        ("Αρχείο:X.jpg", False),  # local name (siteinfo)
        ("Εικόνα:X.jpg", False),  # alias found in the dump's links
        ("κατηγορία:Χ", False),
        ("Category:日本", False),
        ("Module:X", False),
        ("en:Berlin", False),
        (":de:Berlin", False),
        ("wikt:word", False),
        ("d:Q42", False),
        ("", False),
        ("#Section", False),
    ],
)
def test_is_article_link(target: str, expected: bool) -> None:
    assert is_article_link(target, EL) is expected


@pytest.mark.parametrize(
    "raw",
    ["File:X.jpg", "en:Berlin", ":de:Berlin", "::", ":: X", "%2523", "%253A", "A%2520B", ":%3AX", "%3A", ": :X",
     "\u200e:X", "ǆemal", "Star Wars: Episode I", "Talk:%20", "x", " ", "#Section", "_:_File:X"],
)
def test_is_article_target_agrees_with_is_article_link_on_normalised_titles(raw: str) -> None:
    """The shortcut for parsed links' targets (already normalised) changes no answer."""
    target = normalise_title(raw)
    assert is_article_target(target, EL) is is_article_link(target, EL)


def test_local_names_come_only_from_the_wiki() -> None:
    # No language is built in: another wiki's local name is an article title unless its data names it.
    assert is_article_link("Kategorie:Foo", canonical_namespaces().prefixes())
    assert not is_article_link("Kategorie:Foo", Namespaces.build({14: "Kategorie"}).prefixes())
