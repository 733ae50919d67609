"""Backtest pieces: unlinking, the gold the rules allow, the gate."""

import pytest

from model_fixture import DATA, publish_handmade
from scoring.backtest import THRESHOLDS, Unlinked, gate, gold_pairs, remove_links
from scoring.bundle import BacktestRow, BacktestTable, load_bundle
from scoring.namespaces import canonical_namespaces
from scoring.wikitext import parse_article

PREFIXES = canonical_namespaces().prefixes()

PAGE = (
    "{{Infobox|capital=[[Rome]]}}\n"
    "'''Italy''' borders [[France]] and [[Austria|Austrians]]; [[Rome]] is its capital. "
    "[[File:Flag.svg|thumb|[[Paris]]]] [[1861]] [[Lutetia|Paris]] [[Italy]]s\n"
    "[[Category:Countries]]"
)


def test_remove_links_turns_top_level_article_links_into_their_text():
    unlinked = remove_links(parse_article(PAGE), namespace_prefixes=PREFIXES)
    assert unlinked.wikitext == (
        "{{Infobox|capital=[[Rome]]}}\n'''Italy''' borders France and Austrians; Rome is its capital. "
        "[[File:Flag.svg|thumb|[[Paris]]]] 1861 Paris Italys\n[[Category:Countries]]"
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
    unlinked = remove_links(parse_article("The [[atom]]s and [[Paris]] again."), namespace_prefixes=PREFIXES)
    gold, excluded = gold_pairs(unlinked, parse_article(unlinked.wikitext), "Physics", bundle, None)
    assert gold == {("paris", "Paris")}
    assert sum(excluded.values()) == 1 and "inside longer words" in next(iter(excluded))


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

    counts = LinkCounts(language="en", prefixes=PREFIXES)
    with spool_file() as spool:
        counts.read_dump(DATA / "text" / "malformed-pages.xml", spool, progress=False)
    err = capsys.readouterr().err
    assert counts.malformed >= 4 and "Broken markup" in err and "id=4" in err
    assert "Good first" in counts.articles
