"""Backtest pieces: unlinking, the gold the rules allow, the gate."""

import pytest

from model_fixture import DATA, publish_handmade
from scoring.backtest import THRESHOLDS, Unlinked, backtest_pages, gate, gold_pairs, remove_links
from scoring.bundle import BacktestRow, BacktestTable, load_bundle
from scoring.dumps import DumpPage
from scoring.linktrail import for_language
from scoring.sentence_unit import first_linked_sentence, text_only_within
from scoring.namespaces import canonical_namespaces
from scoring.wikitext import parse_article

PREFIXES = canonical_namespaces().prefixes()

PAGE = (
    "{{Infobox|capital=[[Rome]]}}\n"
    "'''Italy''' borders [[France]] and [[Austria|Austrians]]; [[Rome]] is its capital. "
    "[[File:Flag.svg|thumb|[[Paris]]]] [[1861]] [[Lutetia|Paris]] [[Italy|Ital]]y\n"
    "[[Category:Countries]]"
)


def test_remove_links_turns_top_level_article_links_into_their_text():
    unlinked = remove_links(parse_article(PAGE), namespace_prefixes=PREFIXES)
    assert unlinked.wikitext == (
        "{{Infobox|capital=[[Rome]]}}\n'''Italy''' borders France and Austrians; Rome is its capital. "
        "[[File:Flag.svg|thumb|[[Paris]]]] 1861 Paris Italy\n[[Category:Countries]]"
    )
    assert unlinked.pairs == {("france", "France"), ("austrians", "Austria"), ("rome", "Rome"),
                              ("1861", "1861"), ("paris", "Lutetia"), ("italy", "Italy")}


def test_gold_leaves_out_what_the_rules_forbid(tmp_path):
    publish_handmade(tmp_path)
    bundle = load_bundle(tmp_path, "testwiki")  # targets Athens, Paris (alias Lutetia), Paris (mythology), Rome
    unlinked = remove_links(parse_article(PAGE), namespace_prefixes=PREFIXES)
    gold, excluded = gold_pairs(unlinked, parse_article(unlinked.wikitext), "Italy", bundle, None)
    # Rome stays linked in the infobox and Paris in the caption; "italy" is the title; 1861 is a number;
    # France and Austrians are not targets of this dictionary but are still gold (titles, not pages).
    assert gold == {("france", "France"), ("austrians", "Austria")}
    assert excluded == {
        "target linked elsewhere on the page, or the page itself": 2,
        "anchor inside the title or another linked anchor": 1,
        "number-only anchor": 1,
    }


def test_anchor_found_only_inside_longer_words_is_not_gold(tmp_path):
    publish_handmade(tmp_path)
    bundle = load_bundle(tmp_path, "testwiki")
    # "s" is the link trail (rendered "atoms"), but "é" is not in English's rule: "atomsé" is one word.
    unlinked = remove_links(parse_article("The [[atom]]sé and [[Paris]] again."), namespace_prefixes=PREFIXES)
    assert unlinked.pairs == {("atoms", "Atom"), ("paris", "Paris")}
    gold, excluded = gold_pairs(unlinked, parse_article(unlinked.wikitext), "Physics", bundle, None)
    assert gold == {("paris", "Paris")}
    assert sum(excluded.values()) == 1 and "inside longer words" in next(iter(excluded))


@pytest.mark.parametrize(
    "language, page, pair",
    [
        ("en", "The [[bus]]es are red.", ("buses", "Bus")),
        ("en", "The [[Omnibus|bus]]es are red.", ("buses", "Omnibus")),
        ("el", "Η [[Αθήνα]]ς είναι.", ("αθήνας", "Αθήνα")),
        ("uk", "Місто [[Київ]]ом було.", ("київом", "Київ")),
    ],
)
def test_a_trailed_link_is_gold_with_its_rendered_text(tmp_path, language, page, pair):
    publish_handmade(tmp_path)
    bundle = load_bundle(tmp_path, "testwiki")
    trail = for_language(language)
    unlinked = remove_links(parse_article(page, link_trail=trail), namespace_prefixes=PREFIXES)
    assert unlinked.pairs == {pair} and unlinked.wikitext == page.replace("[[", "").replace("]]", "").replace(
        "Omnibus|", "")
    gold, excluded = gold_pairs(unlinked, parse_article(unlinked.wikitext, link_trail=trail), "Page", bundle, None)
    assert gold == {pair} and not excluded


def table(precision: float, recall: float) -> BacktestTable:
    rows = tuple(BacktestRow(threshold=t, precision=precision, recall=recall, predicted=10, gold=20) for t in THRESHOLDS)
    return BacktestTable(wiki="xwiki", articles=3, thresholds=rows)


@pytest.mark.parametrize(
    "precision, recall, passed, words",
    [(0.75, 0.20, True, "pass"), (0.74, 0.5, False, "precision 0.740 < 0.75"), (0.9, 0.19, False, "recall 0.190 < 0.2")],
)
def test_gate_needs_precision_075_and_recall_020(precision, recall, passed, words):
    result = gate(table(precision, recall), 0.5)
    assert result.passed is passed and words in result.reason and not result.forced
    assert gate(table(precision, recall), 0.5, forced=True).forced is (not passed)


def test_unlinked_has_no_markup_left_from_removed_links():
    assert isinstance(remove_links(parse_article("plain"), namespace_prefixes=PREFIXES), Unlinked)
    assert remove_links(parse_article("[[a|]] [[b|c]]"), namespace_prefixes=PREFIXES).wikitext == "[[a|]] c"


def test_training_pass_names_and_skips_malformed_pages(capsys):
    from scoring.corpus import LinkCounts, spool_file

    counts = LinkCounts(language="en", prefixes=PREFIXES, trail=for_language("en"))
    with spool_file() as spool:
        counts.read_dump(DATA / "text" / "malformed-pages.xml", spool, progress=False)
    err = capsys.readouterr().err
    assert counts.malformed >= 4 and "Broken markup" in err and "id=4" in err
    assert "Good first" in counts.articles


# A list item (never mwaddlink's sentence), a line cut off without a full stop, a sentence of links only,
# then the first sentence mwaddlink would take, after the bold title.
SENTENCES = (
    "* [[Rome]] is in a list item.\n"
    "Paris is big and [[Athens]] too\n"
    "[[Athens]], [[Rome]].\n"
    "'''Italy''' is near [[Paris]] and [[Rome]]. Later [[Athens|the city]] grew.\n"
)


def test_first_linked_sentence_is_mwaddlinks_sentence_with_exact_offsets():
    sentence = first_linked_sentence(parse_article(SENTENCES), language="en")
    assert SENTENCES[sentence.start : sentence.end] == " is near [[Paris]] and [[Rome]]. "
    assert first_linked_sentence(parse_article("No links here. [[Paris]] and [[Rome]]"), language="en") is None
    # The splitter cuts after "St. " inside the anchor: neither piece is a sentence of the page.
    cut = "([[St. Paris]], [[Rome]]) was. Then [[Athens]] grew."
    sentence = first_linked_sentence(parse_article(cut), language="en")
    assert cut[sentence.start : sentence.end] == "Then [[Athens]] grew."


def test_remove_links_within_a_span_keeps_the_other_links():
    sentence = first_linked_sentence(parse_article(SENTENCES), language="en")
    unlinked = remove_links(parse_article(SENTENCES), namespace_prefixes=PREFIXES, within=(sentence.start, sentence.end))
    assert unlinked.pairs == {("paris", "Paris"), ("rome", "Rome")}
    assert unlinked.wikitext == SENTENCES.replace("[[Paris]] and [[Rome]].", "Paris and Rome.")


def test_text_only_within_finds_mentions_in_the_span_but_keeps_the_page():
    article = parse_article(SENTENCES)
    cut = text_only_within(article, 100, 120)
    assert cut.wikitext == article.wikitext and cut.links == article.links
    assert [SENTENCES[run.start : run.end] for run in cut.runs] == [run.text for run in cut.runs]
    assert "".join(run.text for run in cut.runs) == "".join(
        SENTENCES[max(r.start, 100) : min(r.end, 120)] for r in article.runs if r.start < 120 and r.end > 100
    )


def at(table: BacktestTable, threshold: float) -> tuple[float, float, int, int]:
    row = table.at(threshold)
    return row.precision, row.recall, row.predicted, row.gold


def test_both_units_on_one_page(tmp_path):
    publish_handmade(tmp_path)
    bundle = load_bundle(tmp_path, "testwiki")  # the booster follows link_prob: athens 0.9, paris 0.8, rome 0.1
    tested = backtest_pages([DumpPage(1, 0, "Italy", None, 1, "", "wikitext", SENTENCES)], bundle)
    assert (tested.table.protocol, tested.sentences.protocol) == ("page-level", "mwaddlink-sentence")
    # Page level: every link removed; gold rome, athens, paris and ("the city", Athens), the last not in
    # the dictionary. Athens and Paris are found at 0.5, Rome (link_prob 0.1) only at 0.0.
    assert tested.table.articles == 1 and tested.table.reachable == 3
    assert at(tested.table, 0.5) == (1.0, 0.5, 2, 4) and at(tested.table, 0.0) == (1.0, 0.75, 3, 4)
    # Sentence unit: gold = the sentence's two links. Paris is found in the sentence although "Paris"
    # occurs earlier on the page; Rome is found at 0.0 although the page still links it in the list
    # item and the line above: as in mwaddlink, where the sentence is the whole page, links elsewhere
    # block nothing.
    assert tested.sentences.articles == 1 and tested.sentences.reachable == 2
    assert at(tested.sentences, 0.5) == (1.0, 0.5, 1, 2)
    assert at(tested.sentences, 0.0) == (1.0, 1.0, 2, 2)
