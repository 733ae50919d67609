"""A wiki's link-trail rule: which letters right after a link's "]]" join the link.

MediaWiki renders ``[[bus]]es`` as one link whose text is "buses"; the letters its language's
``$linkTrail`` accepts (MessagesXx.php, or the wiki's MediaWiki:Linktrail message) join the link, the
first other character ends the trail. The rules of every Wikipedia language are in
``data/linktrails.json`` (see data/README.md); a language not listed falls back to MessagesEn's
``[a-z]*``, as MediaWiki does.

A rule is a character class written either as pywikibot stores it, ``[a-zäöü]*``, or as MediaWiki
writes it, ``/^([a-zäöü]+)(.*)$/sDu``; both mean "the longest prefix of characters in the class".
It is kept as sorted, merged code-point ranges, so the native scanner and the test oracle apply the
same set.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["DEFAULT_LANGUAGE", "LinkTrail", "LinkTrailError", "for_language", "parse_rule"]

DEFAULT_LANGUAGE = "_default"
_MEDIAWIKI_FORM = re.compile(r"/\^\((\[.*\])\+\)\(\.\*\)\$/[a-zA-Z]*", re.S)
_PYWIKIBOT_FORM = re.compile(r"(\[.*\])\*", re.S)


class LinkTrailError(ValueError):
    """A rule that is not one character class (``[...]*`` or ``/^([...]+)(.*)$/flags``)."""


@dataclass(frozen=True)
class LinkTrail:
    """A parsed rule: ``pattern`` as given (normalised to ``[...]*``), ``ranges`` the accepted code
    points as sorted, disjoint, inclusive (first, last) pairs."""

    pattern: str
    ranges: tuple[tuple[str, str], ...]

    def accepts(self, char: str) -> bool:
        point = ord(char)
        return any(ord(first) <= point <= ord(last) for first, last in self.ranges)

    def length(self, text: str, start: int, limit: int | None = None) -> int:
        """How many characters of ``text`` from ``start`` (up to ``limit``) the trail takes."""
        end = len(text) if limit is None else min(limit, len(text))
        position = start
        while position < end and self.accepts(text[position]):
            position += 1
        return position - start


def parse_rule(rule: str) -> LinkTrail:
    """The LinkTrail of ``rule`` in either written form; LinkTrailError otherwise."""
    match = _PYWIKIBOT_FORM.fullmatch(rule) or _MEDIAWIKI_FORM.fullmatch(rule)
    if match is None:
        raise LinkTrailError(f"link trail {rule!r} is not one character class: [...]* or /^([...]+)(.*)$/flags")
    klass = match.group(1)
    return LinkTrail(pattern=f"{klass}*", ranges=_class_ranges(klass[1:-1], rule))


def _class_ranges(body: str, rule: str) -> tuple[tuple[str, str], ...]:
    """Ranges of a character class body, as PCRE reads these rules: ``x-y`` is a range between two
    single characters, a "-" first, last or right after a range is literal, a backslash escapes."""
    if body.startswith("^"):
        raise LinkTrailError(f"link trail {rule!r}: a negated class is not supported")
    tokens: list[tuple[str, bool]] = []  # (character, is an unescaped "-")
    index = 0
    while index < len(body):
        if body[index] == "\\" and index + 1 < len(body):
            tokens.append((body[index + 1], False))
            index += 2
        else:
            tokens.append((body[index], body[index] == "-"))
            index += 1
    ranges: list[tuple[int, int]] = []
    index = 0
    while index < len(tokens):
        first = tokens[index][0]
        if index + 2 < len(tokens) and tokens[index + 1][1]:
            last = tokens[index + 2][0]
            if ord(last) < ord(first):
                raise LinkTrailError(f"link trail {rule!r}: range {first}-{last} is out of order")
            ranges.append((ord(first), ord(last)))
            index += 3
        else:
            ranges.append((ord(first), ord(first)))
            index += 1
    merged: list[list[int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    return tuple((chr(low), chr(high)) for low, high in merged)


@cache
def _rules() -> dict[str, str]:
    data = json.loads(resources.files("scoring").joinpath("data/linktrails.json").read_text(encoding="utf-8"))
    return data["rules"]


@cache
def for_language(language: str) -> LinkTrail:
    """The rule of a wiki in ``language`` (a MediaWiki language code: "el", "be-tarask"); MessagesEn's
    ``[a-z]*`` for a language without its own."""
    rules = _rules()
    return parse_rule(rules.get(language.lower(), rules[DEFAULT_LANGUAGE]))
