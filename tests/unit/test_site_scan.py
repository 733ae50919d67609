"""scoring.site_scan, scoring.pages and stream.pipeline.page_lookup: what a wiki's dump says about it."""

from __future__ import annotations

from pathlib import Path

import pytest

from scoring.dumps import read_siteinfo
from scoring.namespaces import CATEGORY, FILE, TEMPLATE, Namespaces
from scoring.pages import Pages, write_pages
from scoring.site_scan import scan_site
from stream.pipeline.page_lookup import PageLookup
from stream.pipeline.state import TitleRecord

DUMPS = Path(__file__).resolve().parents[1] / "data" / "dumps"
GERMAN = DUMPS / "de-synthetic.xml"


@pytest.fixture(scope="module")
def german():
    return scan_site(GERMAN, read_siteinfo(GERMAN))


def test_namespaces_are_the_canonical_the_local_and_the_aliases_found_in_links(german) -> None:
    names = german.namespaces
    assert names.number("kategorie") == names.number("category") == CATEGORY
    assert names.number("vorlage") == TEMPLATE
    # "Bild" is in no <siteinfo>: five distinct [[Bild:...jpg|png]] links of the articles make it a file alias.
    assert names.number("bild") == names.number("datei") == names.number("image") == FILE
    # Article titles with a colon and interwiki prefixes are no namespace.
    assert names.number("star wars") is None and names.number("en") is None


def test_disambiguation_templates_are_those_holding_the_magic_word_and_their_redirects(german) -> None:
    assert german.disambiguation_templates == ("BKL", "Begriffsklärung")


def test_the_page_table_lists_every_main_namespace_page_with_redirects(german, tmp_path: Path) -> None:
    assert len(german.titles) == 22  # 21 articles and one redirect; templates and categories are left out
    write_pages(tmp_path, german.titles, german.page_ids, german.redirects)
    pages = Pages(tmp_path)
    assert len(pages) == 22
    assert pages.page_id("Isar") == 104 and not pages.is_redirect("Isar")
    assert pages.page_id("Muenchen") == 128 and pages.is_redirect("Muenchen")
    assert pages.page_id("Begriffsklärung") is None and pages.page_id("Vorlage:BKL") is None


def test_a_title_listed_twice_keeps_its_first_page(tmp_path: Path) -> None:
    write_pages(tmp_path, ["A", "B", "A"], [1, 2, 3], [0, 1, 0])
    pages = Pages(tmp_path)
    assert (len(pages), pages.page_id("A"), pages.page_id("B"), pages.is_redirect("B")) == (2, 1, 2, True)


def test_an_alias_needs_several_distinct_titles_that_are_pages_or_files(tmp_path: Path) -> None:
    site = read_siteinfo(GERMAN)
    text = GERMAN.read_text(encoding="utf-8")
    # Two uses only: too few to call "Abb" an alias of File.
    few = text.replace("[[Bild:Muenchen Marienplatz.jpg", "[[Abb:Muenchen Marienplatz.jpg").replace(
        "[[Bild:Bayern Landschaft.png", "[[Abb:Bayern Landschaft.png")
    path = tmp_path / "few.xml"
    path.write_text(few, encoding="utf-8")
    assert scan_site(path, site).namespaces.number("abb") is None


@pytest.mark.parametrize(
    ("events", "complete", "title", "page_id", "gone"),
    [
        ({}, True, "Isar", 104, False),  # the dump's page, nothing happened since
        ({}, True, "Nirgendwo", None, True),  # not in a complete dump: a red link
        ({}, False, "Nirgendwo", None, False),  # a sample dump cannot tell: kept
        ({"Isar": TitleRecord(gone=True, page_id=None)}, True, "Isar", None, True),  # deleted since the dump
        ({"Nirgendwo": TitleRecord(gone=False, page_id=7)}, True, "Nirgendwo", 7, False),  # created since
    ],
)
def test_events_are_laid_over_the_page_table(tmp_path: Path, events, complete, title, page_id, gone) -> None:
    write_pages(tmp_path, ["Isar"], [104], [0])
    lookup = PageLookup(events, Pages(tmp_path), complete)
    assert (lookup.page_id(title), lookup.gone(title)) == (page_id, gone)


def test_without_a_page_table_only_events_are_known() -> None:
    lookup = PageLookup({"Isar": TitleRecord(gone=False, page_id=104)}, None, True)
    assert (lookup.page_id("Isar"), lookup.gone("Isar"), lookup.page_id("Inn"), lookup.gone("Inn")) == (104, False, None, False)


def test_namespaces_round_trip_through_json() -> None:
    names = Namespaces.build({14: "Kategorie"}, {6: ["Bild"]})
    assert Namespaces.model_validate_json(names.model_dump_json()) == names
