"""Link trails: the rule of a wiki's language, the parse (native and oracle), training and suggestions.

MediaWiki renders "[[bus]]es" as one link whose text is "buses"; the letters its language's rule
accepts join the link (scoring/linktrail.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

import wikitext_oracle
from model_fixture import publish_handmade
from scoring.backtest import gold_pairs, remove_links
from scoring.bundle import load_bundle, open_bundle
from scoring.dumps import split_of
from scoring.linktrail import LinkTrailError, for_language, parse_rule
from scoring.mentions import editor_match_indices
from scoring.namespaces import Namespaces, canonical_namespaces
from scoring.recommend import recommend
from scoring.train import train
from scoring.wikitext import Link, parse_article
from stream.cli import main

PREFIXES = canonical_namespaces().prefixes()


# --- the rule -----------------------------------------------------------------------------------------


def test_a_listed_language_has_its_own_rule():
    greek, ukrainian = for_language("el"), for_language("uk")
    assert greek.accepts("ς") and greek.accepts("ά") and greek.accepts("b") and not greek.accepts("я")
    assert ukrainian.accepts("ї") and ukrainian.accepts("ґ") and not ukrainian.accepts("ς")
    assert for_language("EL") == greek


def test_an_unlisted_language_has_mediawikis_default():
    japanese = for_language("ja")
    assert japanese.pattern == "[a-z]*" and japanese == for_language("en")
    assert japanese.accepts("s") and not japanese.accepts("S") and not japanese.accepts("の")


def test_both_written_forms_and_pcre_dashes():
    assert parse_rule("/^([a-zäöü]+)(.*)$/sDu") == parse_rule("[a-zäöü]*")
    icelandic = for_language("is")  # '[áðéíóúýþæöa-z-–]*': a "-" after a range is literal
    assert icelandic.accepts("-") and icelandic.accepts("–") and icelandic.accepts("þ") and not icelandic.accepts(".")
    assert parse_rule(r"[a\-c]*").accepts("-") and not parse_rule(r"[a\-c]*").accepts("b")
    for bad in ("a-z", "[^a-z]*", "[z-a]*", "/^([a-z]+)$/"):
        with pytest.raises(LinkTrailError):
            parse_rule(bad)


def test_a_bundle_without_the_field_uses_its_languages_rule(tmp_path):
    publish_handmade(tmp_path)  # a manifest without siteinfo, language "en"
    bundle = load_bundle(tmp_path, "testwiki")
    assert bundle.manifest.siteinfo is None and bundle.link_trail == for_language("en")


# --- the parse ----------------------------------------------------------------------------------------


def _both(text: str, language: str):
    trail = for_language(language)
    native, oracle = parse_article(text, link_trail=trail), wikitext_oracle.parse_article(text, link_trail=trail)
    assert native == oracle
    return native


def test_english_trail_belongs_to_the_link():
    text = "The [[bus]]es are red."
    article = _both(text, "en")
    assert article.links == (Link("Bus", "bus", 4, 11, True, "es"),)
    link = article.links[0]
    assert (link.text, text[link.end : link.trail_end]) == ("buses", "es")
    assert [(r.start, r.text, r.glued_before) for r in article.runs] == [(0, "The ", False), (13, " are red.", True)]
    assert [(s.start, s.end) for s in article.editor_spans] == [(0, 4), (13, 22)]


@pytest.mark.parametrize(
    "language, text, anchor, trail, after",
    [
        ("el", "Η [[Αθήνα]]ς είναι", "Αθήνα", "ς", " είναι"),
        ("el", "Οι [[Έλληνας|Έλλην]]ες ήρθαν", "Έλλην", "ες", " ήρθαν"),
        ("uk", "Місто [[Київ]]ом було", "Київ", "ом", " було"),
        ("uk", "Ріка [[Дніпро|Дніпр]]ові тече", "Дніпр", "ові", " тече"),
    ],
)
def test_greek_and_ukrainian_trails(language, text, anchor, trail, after):
    article = _both(text, language)
    (link,) = article.links
    assert (link.anchor, link.trail) == (anchor, trail)
    assert text[link.end : link.trail_end] == trail
    run = article.runs[-1]
    assert (run.text, run.start, run.glued_before) == (after, link.trail_end, True)
    # Without the language's rule (MediaWiki's default [a-z]*) no Greek or Cyrillic letter joins.
    assert parse_article(text).links[0].trail == ""


def test_a_letter_the_rule_rejects_ends_the_trail_and_stays_glued():
    text = "A [[bus]]esé here, [[Київ]]ом too"
    article = _both(text, "en")
    assert [link.trail for link in article.links] == ["es", ""]
    assert [(r.text, r.glued_before) for r in article.runs[1:]] == [("é here, ", True), ("ом too", True)]


def test_piped_link_with_a_trail_and_a_trail_inside_a_template():
    text = "[[a|b]]cd, {{t|[[x]]yz}} <small>[[q]]rs</small>"
    article = _both(text, "en")
    assert [(l.anchor, l.trail, l.text) for l in article.links] == [("b", "cd", "bcd"), ("x", "yz", "xyz"),
                                                                    ("q", "rs", "qrs")]
    assert text[article.links[0].start : article.links[0].trail_end] == "[[a|b]]cd"
    assert all(text[s.start : s.end] not in ("rs", "cd") for s in article.editor_spans)


def test_file_category_and_interlanguage_links_take_no_trail():
    # MediaWiki appends the letters after these as text; a leading ":" makes a plain link, which takes them.
    text = "[[File:x.png|thumb|cap]]Athens is. [[Κατηγορία:Z]]abc [[en:Foo]]bar [[:File:y]]s [[Help:H]]ij"
    greek = Namespaces.build({6: "Αρχείο", 14: "Κατηγορία"})
    trail = for_language("el")
    native = parse_article(text, greek, trail)
    assert native == wikitext_oracle.parse_article(text, greek, trail)
    assert [link.trail for link in native.links] == ["", "", "", "s", "ij"]
    assert [run.text for run in native.runs][:3] == ["Athens is. ", "abc ", "bar "]


def test_the_editor_text_keeps_letters_the_rule_rejects():
    # "é" is a letter but not in English's rule: Parsoid leaves it after the link, where the editor counts it.
    text = "A [[Help:X]]éa and éa."
    article = parse_article(text)
    assert editor_match_indices(article, [("éa", text.rindex("éa"))]) == [1]
    greek = "Η [[Help:X]]ςα και ςα."  # in Greek's rule "ςα" is the trail, inside the link
    article = parse_article(greek, link_trail=for_language("el"))
    assert editor_match_indices(article, [("ςα", greek.rindex("ςα"))]) == [0]


# --- training, gold and suggestions on a tiny dump ----------------------------------------------------

_HEADER = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" xml:lang="en">
  <siteinfo><sitename>Test</sitename><dbname>trailwiki</dbname><case>first-letter</case>
    <namespaces><namespace key="0" case="first-letter" /><namespace key="10" case="first-letter">Template</namespace>
    <namespace key="14" case="first-letter">Category</namespace></namespaces></siteinfo>
"""


def _page(page_id: int, title: str, text: str) -> str:
    return (f"  <page><title>{escape(title)}</title><ns>0</ns><id>{page_id}</id><revision><id>{page_id * 10}</id>"
            f"<timestamp>2024-01-01T00:00:00Z</timestamp><model>wikitext</model><format>text/x-wiki</format>"
            f'<text xml:space="preserve">{escape(text)}</text></revision></page>\n')


def _town(number: int) -> str:
    """A town article: "buses" linked with a trail in some, plain in the others, with other anchors."""
    buses = "[[bus]]es" if number % 2 == 0 else "buses"
    car = "[[car]]" if number % 3 == 0 else "car"
    tram = "[[tram]]s" if number % 4 == 1 else "trams"
    return (f"Town {number} is a town. Its {buses} are red and a {car} is fast. "
            f"Old {tram} run on the main road. People like buses and trams.")


def _tiny_dump(path: Path) -> Path:
    pages = [_page(1, "Bus", "A bus carries people."), _page(2, "Car", "A car has wheels."),
             _page(3, "Tram", "A tram runs on rails.")]
    pages += [_page(page_id, f"Town {page_id}", _town(page_id)) for page_id in range(10, 130)]
    path.write_text(_HEADER + "".join(pages) + "</mediawiki>\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("trails")
    dump = _tiny_dump(root / "trailwiki.xml")
    train(dump, root / "models", wiki="trailwiki", force=True, max_rounds=20, n_jobs=1, progress=False)
    return dump, load_bundle(root / "models", "trailwiki")


def test_the_trailed_anchor_is_in_the_dictionary_and_the_rule_in_the_bundle(tiny):
    _, bundle = tiny
    assert bundle.manifest.siteinfo.link_trail == "[a-z]*" and bundle.link_trail == for_language("en")
    index = bundle.anchors.index("buses")
    assert index >= 0 and bundle.anchors.index("trams") >= 0
    rows = bundle.anchors.candidate_rows(index)
    assert [bundle.targets.title(t) for t in bundle.anchors.target[rows.start : rows.stop].tolist()] == ["Bus"]
    # "bus" is never a linked anchor ("[[bus]]es" renders "buses"); it is only the title "Bus" as a
    # candidate for its own text, linked by no article.
    assert bundle.anchors.candidates("bus") == {bundle.targets.id_of("Bus"): 0}


def test_the_trailed_link_is_gold_in_both_units(tiny):
    dump, bundle = tiny
    test_page = next(n for n in range(10, 130, 2) if split_of(n) == "test")  # even: links "[[bus]]es"
    unlinked = remove_links(parse_article(_town(test_page), link_trail=bundle.link_trail), namespace_prefixes=PREFIXES)
    gold, _ = gold_pairs(unlinked, parse_article(unlinked.wikitext, link_trail=bundle.link_trail),
                         f"Town {test_page}", bundle, None)
    assert ("buses", "Bus") in gold
    # Nothing was left out as glued: every trail here is a whole word.
    assert not any("inside longer words" in reason for reason in bundle.manifest.gold_excluded)
    assert bundle.manifest.backtest.thresholds[0].gold > 0 and bundle.manifest.backtest_mwaddlink.thresholds[0].gold > 0


def test_a_mention_of_the_trailed_anchor_is_suggested_exactly(tiny):
    _, bundle = tiny
    text = "Minibuses stop here. The [[car]]s wait while buses pass."
    links = recommend(text, title="Depot", page_id=1, rev_id=1, bundle=bundle, threshold=0.0, max_links=None,
                      deadline_s=None).links
    buses = next(link for link in links if link.link_text == "buses")
    assert (buses.link_target, buses.wikitext_offset) == ("Bus", text.rindex("buses"))
    assert buses.match_index == 1  # the editor also counts "buses" inside "Minibuses"


def test_a_bundle_written_before_the_rule_was_stored_still_loads(tiny, tmp_path):
    _, bundle = tiny
    copy = tmp_path / "old"
    shutil.copytree(bundle.path, copy)
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    del manifest["siteinfo"]["link_trail"]
    manifest["language"] = "uk"
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    old = open_bundle(copy)
    assert old.manifest.siteinfo.link_trail is None and old.link_trail == for_language("uk")


def test_train_link_trail_overrides_the_language(tiny, tmp_path):
    dump, _ = tiny
    code = main(["train", "--wiki", "trailwiki", "--dump", str(dump), "--models", str(tmp_path), "--force", "--quiet",
                 "--link-trail", "/^([s]+)(.*)$/sD"])
    assert code == 0
    bundle = load_bundle(tmp_path, "trailwiki")
    assert bundle.manifest.siteinfo.link_trail == "[s]*"
    # "[[tram]]s" still takes its "s"; "[[bus]]es" takes nothing, so "bus" is glued to "es" and left out.
    assert bundle.anchors.index("trams") >= 0 and bundle.anchors.index("buses") < 0
    assert main(["train", "--wiki", "x", "--dump", str(dump), "--models", str(tmp_path), "--link-trail", "a-z"]) == 2
