"""Differential check of the native wikitext scanner against the mwparserfromhell oracle.

Both parsers read every article of a dump twice, as written and with its top-level article links
removed (``backtest.remove_links``, the text the backtest scores); their ``ParsedArticle`` values are
compared field by field. Used by ``test_native_scan.py`` on the committed excerpts and by command on
full dumps::

    .venv/bin/python tests/unit/parse_diff.py /work/shared/data/wikis/*.xml.bz2 [--examples 3]

prints, per dump and field, how many articles differ and the first differences, and exits 1 if any.

One difference is by design and counted apart: the oracle parses a text longer than
``markup_guard.CHUNK_CHARS`` in pieces (to bound mwparserfromhell's re-scans), so a construct the
guard does not pair (bold/italics, a list item) ends at a cut; the native scanner reads the whole text
as mwparserfromhell (and mwaddlink) would. Such a text is compared again with the oracle unchunked,
and counted under ``chunk cuts`` when that agrees (test_native_scan pins the behaviour). The other:
the native scanner skips a "template name" longer than a title can be (255 bytes; such a name holds
nested markup or is stray text between braces), counted under ``overlong template names`` when the
oracle's only extra templates are such names.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import markup_guard
import wikitext_oracle
from scoring.backtest import remove_links
from scoring.dumps import is_article, iter_pages, read_siteinfo
from scoring.linktrail import LinkTrail, for_language
from scoring.namespaces import Namespaces
from scoring.wikitext import ParsedArticle, parse_article

FIELDS = ("runs", "links", "templates", "categories", "editor_spans")
Parser = Callable[[str, Namespaces, LinkTrail], ParsedArticle]


@dataclass
class FieldDiff:
    articles: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class DumpDiff:
    dump: str
    articles: int = 0
    chunk_cuts: list[str] = field(default_factory=list)
    overlong_names: list[str] = field(default_factory=list)
    fields: dict[str, FieldDiff] = field(default_factory=lambda: {name: FieldDiff() for name in FIELDS})

    @property
    def mismatched(self) -> int:
        return sum(diff.articles for diff in self.fields.values())


def first_difference(expected: tuple, actual: tuple) -> str:
    """The first element where two field values differ, both sides shown."""
    for index, (want, got) in enumerate(zip(expected, actual, strict=False)):
        if want != got:
            return f"[{index}] oracle {want!r:.300} != native {got!r:.300}"
    index = min(len(expected), len(actual))
    extra = expected[index:] or actual[index:]
    side = "oracle" if len(expected) > len(actual) else "native"
    return f"{side} has {abs(len(expected) - len(actual))} more from [{index}]: {extra[0]!r:.300}"


MAX_TITLE_CHARS = 255  # a title has at most 255 bytes, so at most 255 characters


def differs(oracle: ParsedArticle, native: ParsedArticle) -> bool:
    return any(getattr(oracle, name) != getattr(native, name) for name in FIELDS)


def only_overlong_names(oracle: ParsedArticle, native: ParsedArticle) -> bool:
    """Whether the articles differ only by oracle template names longer than any title."""
    kept = tuple(name for name in oracle.templates if len(name) <= MAX_TITLE_CHARS)
    others_equal = all(getattr(oracle, name) == getattr(native, name) for name in FIELDS if name != "templates")
    return others_equal and kept == native.templates


def parse_unchunked(text: str, namespaces: Namespaces | None = None, trail: LinkTrail | None = None) -> ParsedArticle:
    """The oracle reading ``text`` as one piece, as mwparserfromhell itself would."""
    with mock.patch.object(markup_guard, "CHUNK_CHARS", max(len(text), markup_guard.CHUNK_CHARS)):
        return wikitext_oracle.parse_article(text, namespaces, trail)


def compare(
    title: str, oracle: ParsedArticle, native: ParsedArticle, namespaces: Namespaces, trail: LinkTrail,
    into: DumpDiff, examples: int,
) -> None:
    if not differs(oracle, native):
        return
    text = oracle.wikitext
    if only_overlong_names(oracle, native):
        into.overlong_names.append(title)
        return
    if len(text) > markup_guard.CHUNK_CHARS and not differs(parse_unchunked(text, namespaces, trail), native):
        into.chunk_cuts.append(title)
        return
    for name in FIELDS:
        want, got = getattr(oracle, name), getattr(native, name)
        if want != got:
            diff = into.fields[name]
            diff.articles += 1
            if len(diff.examples) < examples:
                diff.examples.append(f"{title}: {first_difference(want, got)}")


def namespaces_of(dump: Path) -> Namespaces:
    """The dump's own namespace names (its <siteinfo>) with MediaWiki's canonical ones."""
    return Namespaces.build(read_siteinfo(dump).namespaces)


def trail_of(dump: Path) -> LinkTrail:
    """The link-trail rule of the dump's language (its ``xml:lang``)."""
    return for_language(read_siteinfo(dump).language or "en")


def texts(dump: Path, namespaces: Namespaces, trail: LinkTrail) -> Iterator[tuple[str, str]]:
    """(label, wikitext) for every article of ``dump``: as written, then with its links removed."""
    for page in iter_pages(dump, on_error=lambda _error: None):
        if not is_article(page):
            continue
        yield page.title, page.text
        article = wikitext_oracle.parse_article(page.text, namespaces, trail)
        unlinked = remove_links(article, namespace_prefixes=namespaces.prefixes())
        yield f"{page.title} (links removed)", unlinked.wikitext


def diff_dump(
    dump: Path, *, oracle: Parser = wikitext_oracle.parse_article, native: Parser = parse_article, examples: int = 3
) -> DumpDiff:
    result = DumpDiff(dump.name)
    namespaces, trail = namespaces_of(dump), trail_of(dump)
    for label, text in texts(dump, namespaces, trail):
        result.articles += 1
        compare(label, oracle(text, namespaces, trail), native(text, namespaces, trail), namespaces, trail, result,
                examples)
    return result


def render(result: DumpDiff) -> str:
    lines = [f"{result.dump}: {result.articles} texts"]
    if result.overlong_names:
        lines.append(f"  overlong template names: {len(result.overlong_names)}: {', '.join(result.overlong_names)}")
    if result.chunk_cuts:
        lines.append(f"  chunk cuts (oracle unchunked agrees): {len(result.chunk_cuts)}: {', '.join(result.chunk_cuts)}")
    for name, diff in result.fields.items():
        lines.append(f"  {name}: {diff.articles} differ")
        lines += [f"    {example}" for example in diff.examples]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dumps", nargs="+", type=Path)
    parser.add_argument("--examples", type=int, default=3, help="differences shown per field (default 3)")
    args = parser.parse_args(argv)
    failed = False
    for dump in args.dumps:
        result = diff_dump(dump, examples=args.examples)
        print(render(result), flush=True)
        failed |= result.mismatched > 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
