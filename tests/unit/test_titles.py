"""scoring.titles: MediaWiki title normalisation and article-link classification."""

from __future__ import annotations

import pytest

from scoring.titles import is_article_link, namespace_prefix, normalise_anchor, normalise_title


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


def test_namespace_prefix() -> None:
    assert namespace_prefix("Category_talk : Foo") == "category talk"
    assert namespace_prefix("Foo") is None


@pytest.mark.parametrize(
    ("target", "language", "expected"),
    [
        ("Berlin", "el", True),
        ("ISO 3166-2:VN", "vi", True),  # a colon in an article title
        ("Star Wars: Episode I", "uk", True),
        ("File:X.jpg", "el", False),
        ("image:X.jpg", "mr", False),
        ("Αρχείο:X.jpg", "el", False),
        ("Εικόνα:X.jpg", "el", False),
        ("κατηγορία:Χ", "el", False),
        ("Файл:X.png", "uk", False),
        ("Зображення:X.png", "uk", False),
        ("Tập_tin:X.png", "vi", False),
        ("Hình:X.png", "vi", False),
        ("画像:X.png", "ja", False),
        ("Category:日本", "ja", False),
        ("वर्ग:X", "mr", False),
        ("Kategoreja:X", "ltg", False),
        ("Fails:X.png", "ltg", False),
        ("en:Berlin", "el", False),
        (":de:Berlin", "el", False),
        ("wikt:word", "ja", False),
        ("d:Q42", "ltg", False),
        ("", "el", False),
        ("#Section", "el", False),
    ],
)
def test_is_article_link(target: str, language: str, expected: bool) -> None:
    assert is_article_link(target, language) is expected


def test_is_article_link_with_dump_prefixes() -> None:
    # Another wiki's local name is unknown without the dump's siteinfo.
    assert is_article_link("Kategorie:Foo", "de")
    assert not is_article_link("Kategorie:Foo", "de", frozenset({"kategorie"}))
