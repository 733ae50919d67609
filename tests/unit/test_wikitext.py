"""scoring.wikitext: top-level runs, links anywhere, sections, offsets, bounded parsing."""

from __future__ import annotations

import time
from pathlib import Path

import mwparserfromhell
import pytest

import markup_guard
import wikitext_oracle
from scoring.dumps import is_article, iter_pages
from scoring.namespaces import Namespaces, canonical_namespaces
from scoring.wikitext import LinkedSpan, parse_article, plain_text_with_links

SAMPLES = sorted((Path(__file__).resolve().parents[1] / "data" / "dumps").glob("*-sample.xml.bz2"))


def _runs(wikitext: str) -> list[tuple[int, str]]:
    return [(r.start, r.text) for r in parse_article(wikitext).runs]


def test_run_offset_is_real_not_str_find() -> None:
    # mwaddlink's str.find reports 9 for the second " and army" (reference §2.8); the real offset is 26.
    text = "<!-- and army -->[[A]] and army"
    assert _runs(text) == [(22, " and army")]
    assert text[22:31] == " and army"


def test_only_top_level_text_is_a_run() -> None:
    text = (
        "Lead {{Infobox|name=Not text}} plain ''italic'' '''bold''' <ref>cite</ref> "
        "[[Link|label]] <!-- hidden --> &nbsp;after\n{|\n| cell\n|}\n== Head ==\nbody"
    )
    texts = [t for _, t in _runs(text)]
    joined = "".join(texts)
    for hidden in ("Not text", "italic", "bold", "cite", "label", "hidden", "cell", "Head"):
        assert hidden not in joined
    assert "Lead " in texts and "after\n" in texts and "\nbody" in texts


def test_sections_any_level_without_inheritance() -> None:
    article = parse_article("lead\n== A ==\na\n=== A.1 ===\na1\n==B==\nb")
    assert [(r.section, r.text.strip()) for r in article.runs] == [
        (None, "lead"), ("A", "a"), ("A.1", "a1"), ("B", "b")
    ]


def test_links_everywhere_with_exact_spans() -> None:
    text = (
        "a {{t|x=[[A|b {{u|[[C]]}}]]}} <ref>[[D]]</ref> <gallery>File:x.jpg|cap [[E]]</gallery> "
        "[[File:y.jpg|thumb|cap [[F]]]] <nowiki>[[G]]</nowiki> ''[[H]]'' <!-- [[I]] --> [[J#Sec|j]]"
    )
    article = parse_article(text)
    found = {link.target: (link.top_level, text[link.start : link.end]) for link in article.links}
    assert set(found) == {"A", "C", "D", "E", "File:y.jpg", "F", "H", "J"}
    assert found["C"] == (False, "[[C]]")
    assert found["E"] == (False, "[[E]]")
    assert found["File:y.jpg"][0] is True
    assert found["J"] == (True, "[[J#Sec|j]]")
    for link in article.links:
        assert text[link.start : link.start + 2] == "[[" and text[link.end - 2 : link.end] == "]]"


def test_link_anchor_and_target() -> None:
    article = parse_article("[[foo_bar]] [[Baz (x)|''the'' baz]] [[:Category:Q]] [[Category:Things|sort]]")
    assert [(link.target, link.anchor) for link in article.links] == [
        ("Foo bar", "foo_bar"), ("Baz (x)", "the baz"), ("Category:Q", "Category:Q"),
        ("Category:Things", "sort"),
    ]
    assert article.categories == ("Things",)


def test_templates_normalised_without_magic_words() -> None:
    article = parse_article(
        "{{cite web|x={{Nowrap|y}}}} {{Template:Infobox_person}} {{subst:Foo}} {{#if:a|b}} "
        "{{DEFAULTSORT:X}} {{PAGENAME}} {{lc:ABC}} {{Шаблон:Картка}} {{NPOV}} {{CURRENTYEAR}} {{!}}",
        Namespaces.build({10: "Шаблон"}),
    )
    # Upper-case names are templates too ({{NPOV}}, dewiki's {{BKL}}); only MediaWiki's variables are not.
    assert article.templates == ("Cite web", "Nowrap", "Infobox person", "Foo", "Картка", "NPOV")


def test_templates_and_categories_with_the_wikis_own_namespace_names() -> None:
    text = "{{Vorlage:Begriffsklärung}} [[Kategorie:Stadt in Bayern]] [[Category:X]] [[:Kategorie:Q]] [[Bild:a.png]]"
    german = Namespaces.build({6: "Datei", 10: "Vorlage", 14: "Kategorie"}, {6: ["Bild"]})
    article = parse_article(text, german)
    assert article.templates == ("Begriffsklärung",)
    assert article.categories == ("Stadt in Bayern", "X")  # local and canonical names; not [[:Kategorie:..]]
    # Without the wiki's names only MediaWiki's canonical ones are known: nothing German is built in.
    plain = parse_article(text)
    assert plain.templates == ("Vorlage:Begriffsklärung",) and plain.categories == ("X",)


def test_glue_flags() -> None:
    runs = parse_article("[[Star]]ship is '''big'''ness x<ref>r</ref> y\n* item").runs
    flags = {r.text: (r.glued_before, r.glued_after) for r in runs}
    assert flags[" is "] == (True, True)  # flags describe the neighbours, not the run's own edges
    assert flags["ness x"] == (True, False)  # the ref after "x" renders apart from it
    assert flags[" y\n"] == (False, False)


def test_editor_spans_follow_the_editor_walk() -> None:
    text = "Foo <span>bar</span> <b>no</b> <small>tiny <u>u</u></small> [[L]]trail <ref>r</ref>"
    spans = [text[s.start : s.end] for s in parse_article(text).editor_spans]
    assert "bar" in spans and "tiny " in spans and "u" in spans
    assert " " == spans[-1]  # the link trail renders inside the link: no span holds it
    assert all("no" != t and "r" != t for t in spans)


def test_plain_text_with_links() -> None:
    article = parse_article("The [[United States|US]] army{{cn}} and [[File:x.png]] [[Berlin]]s [[en:Foo]].")
    plain = plain_text_with_links(article, namespace_prefixes=canonical_namespaces().prefixes())
    assert plain.text == "The US army\n and \n Berlins \n."
    assert plain.links == (LinkedSpan(4, 6, "United States"), LinkedSpan(19, 26, "Berlin"))
    assert [plain.text[s.start : s.end] for s in plain.links] == ["US", "Berlins"]


def test_rejects_non_str() -> None:
    with pytest.raises(TypeError):
        parse_article(b"bytes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{{a|" * 4000 + "x" + "}}" * 4000,
        "{{a|x " * 4000,
        "{{a|[[b|''c<ref>d" * 2000,
        "[[a{{b|<div>''' x {| \n" * 2000,
        "[http://example.org x " * 2000,
        "<!-- " * 5000,
        "あ" * 1_000_000,
        "x" * 1_000_000,
    ],
    ids=["empty", "deep", "unclosed-templates", "mixed-unclosed", "mixed-lines", "ext-links", "comments",
         "spaceless-1M", "one-word-1M"],
)
def test_bounded_on_hostile_input(text: str) -> None:
    started = time.perf_counter()
    article = parse_article(text)
    assert time.perf_counter() - started < 10  # unguarded, several of these take minutes
    for run in article.runs:
        assert text[run.start : run.end] == run.text
    assert "".join(r.text for r in article.runs) in text or len(article.runs) > 1


def test_guard_keeps_offsets_and_restores_text() -> None:
    text = "{{a|x " * 3000 + "[[Real link|label]] tail"
    assert markup_guard.neutralise(text) != text
    article = parse_article(text)
    assert [(link.target, link.anchor) for link in article.links] == [("Real link", "label")]
    assert article.runs[0].text.startswith("{{a|x ")
    assert article.runs[-1].text == " tail"


def test_chunked_parse_keeps_constructs_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "\n\n".join(f"== S{i} ==\nPara {i} {{{{t|[[L{i}]]\n\nstill in template}}}} end." for i in range(50))
    whole = wikitext_oracle.parse_article(text)
    monkeypatch.setattr(markup_guard, "CHUNK_CHARS", 200)
    assert len(markup_guard.chunk_bounds(text)) > 5
    assert wikitext_oracle.parse_article(text) == whole == parse_article(text)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name.split("-")[0])
def test_real_articles_offsets(sample: Path) -> None:
    for page in iter_pages(sample):
        if not is_article(page):
            continue
        text = page.text
        article = parse_article(text)
        top = mwparserfromhell.parse(text).filter_text(recursive=False)
        # The top-level text is the runs and the trails of the top-level links between them.
        pieces = sorted([(r.start, r.text) for r in article.runs]
                        + [(link.end, link.trail) for link in article.links if link.top_level and link.trail])
        assert "".join(piece for _, piece in pieces) == "".join(str(n) for n in top)
        for run in article.runs:
            assert text[run.start : run.end] == run.text
        assert len(article.links) >= len(mwparserfromhell.parse(text).filter_wikilinks())
        for link in article.links:
            assert mwparserfromhell.parse(text[link.start : link.end]).filter_wikilinks(recursive=False)
