"""`addlink produce` publishes each page's latest revision only (stream.ops.backfill.latest_pages)."""

from __future__ import annotations

from pathlib import Path

from scoring.dumps import iter_pages
from stream.ops.backfill import dump_page_event, latest_pages

HEADER = '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" xml:lang="en">\n'


def _page(page_id: int, title: str, *revisions: tuple[int, str], ns: int = 0, redirect: str | None = None) -> str:
    revs = "".join(f"<revision><id>{rev_id}</id><timestamp>2023-0{1 + rev_id % 9}-01T00:00:00Z</timestamp>"
                   f"<model>wikitext</model><text>{text}</text></revision>" for rev_id, text in revisions)
    redirect_el = f'<redirect title="{redirect}" />' if redirect else ""
    return f"<page><title>{title}</title><ns>{ns}</ns><id>{page_id}</id>{redirect_el}{revs}</page>\n"


def _dump(path: Path, *pages: str) -> Path:
    path.write_text(HEADER + "".join(pages) + "</mediawiki>\n", encoding="utf-8")
    return path


def test_one_dump_publishes_each_article_once_at_its_highest_revision(tmp_path: Path) -> None:
    # A full-history dump holds every revision of a page; these are deliberately not in id order.
    dump = _dump(tmp_path / "history.xml",
                 _page(1, "Alpha", (30, "newest"), (10, "old"), (20, "middle")),
                 _page(2, "Beta", (11, "only")),
                 _page(3, "Gamma", (12, "#REDIRECT [[Alpha]]"), redirect="Alpha"),
                 _page(4, "User:Delta", (13, "user page"), ns=2))
    assert [(p.page_id, p.rev_id, p.text) for p in latest_pages([dump])] == [(1, 30, "newest"), (2, 11, "only")]


def test_several_dumps_publish_only_the_newest_revision_of_each_page(tmp_path: Path) -> None:
    old = _dump(tmp_path / "20230401.xml",
                _page(1, "Alpha", (10, "alpha april")),
                _page(2, "Beta", (11, "beta april")),  # absent from May: not taken for deleted
                _page(3, "Gamma", (12, "gamma article")),  # a redirect in May
                _page(4, "Delta", (13, "#REDIRECT [[Alpha]]"), redirect="Alpha"),  # a redirect in both
                _page(5, "Epsilon", (15, "unchanged")))
    new = _dump(tmp_path / "20230501.xml",
                _page(1, "Alpha", (40, "alpha may")),
                _page(3, "Gamma", (42, "#REDIRECT [[Alpha]]"), redirect="Alpha"),
                _page(4, "Delta", (43, "#REDIRECT [[Beta]]"), redirect="Beta"),
                _page(5, "Epsilon", (15, "unchanged")),
                _page(6, "Zeta", (46, "new article")))
    expected = {(1, 40, "alpha may"), (2, 11, "beta april"), (3, 42, "#REDIRECT [[Alpha]]"), (5, 15, "unchanged"),
                (6, 46, "new article")}
    for order in ([old, new], [new, old]):  # the order the dumps are named in does not matter
        published = [(p.page_id, p.rev_id, p.text) for p in latest_pages(order)]
        assert len(published) == len(expected) and set(published) == expected


def test_a_published_redirect_says_so_in_its_event(tmp_path: Path) -> None:
    # The former article now a redirect must reach the stream as a redirect, which removes its rows.
    dump = _dump(tmp_path / "d.xml", _page(3, "Gamma", (42, "#REDIRECT [[Alpha]]"), redirect="Alpha"))
    event = dump_page_event(next(iter_pages(dump)), wiki_id="enwiki", domain="en.wikipedia.org")
    assert event["page"]["is_redirect"] is True and event["revision"]["rev_id"] == 42
