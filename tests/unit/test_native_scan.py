"""The native scanner (scoring.wikitext.scan_article) against the mwparserfromhell oracle.

Every article of the committed excerpts, as written and with its links removed, must give the same
ParsedArticle field by field (parse_diff.py; the same check runs over the full sample dumps when
ADDLINK_SAMPLE_DUMPS names their folder). The constructs below are the tokenizer rules the scanner
ports; each case is checked against the oracle rather than a hand-written expectation.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from parse_diff import FIELDS, diff_dump, render
from scoring.wikitext import parse_article, scan_article

COMMITTED = sorted((Path(__file__).resolve().parents[1] / "data" / "dumps").glob("*-sample.xml.bz2"))
FULL = sorted(Path(os.environ["ADDLINK_SAMPLE_DUMPS"]).glob("*.xml*")) if os.environ.get(
    "ADDLINK_SAMPLE_DUMPS") else []


@pytest.mark.parametrize("dump", COMMITTED, ids=lambda p: p.name.split("-")[0])
def test_native_matches_oracle_on_committed_excerpts(dump: Path) -> None:
    result = diff_dump(dump)
    assert result.articles > 0
    assert result.mismatched == 0, render(result)


@pytest.mark.slow
@pytest.mark.skipif(not FULL, reason="set ADDLINK_SAMPLE_DUMPS to a folder of full sample dumps")
@pytest.mark.parametrize("dump", FULL, ids=lambda p: p.name.split("-")[0])
def test_native_matches_oracle_on_full_sample_dumps(dump: Path) -> None:
    result = diff_dump(dump)
    assert result.mismatched == 0, render(result)


CONSTRUCTS = {
    "nested templates and arguments": "a {{x|{{y|[[L1]]}}|k={{{p|[[L2|two]]}}}}} {{{{{z}}}}} b",
    "brace runs": "{{{{a}}}} {{{{{b}}}}} {{{{{{c}}}}}} {{ {x}} }}",
    "link forms": "[[A]]s [[b|''Bold'' &amp; [[c]]]] [[:Category:X]] [[Category:Y|k]] [[a[b]] [[x\ny]] t",
    "file caption": "[[File:F.jpg|thumb|A [[caption link]] and {{tpl}}]] after",
    "gallery and imagemap": "x <gallery>\nF.jpg|[[G1]] cap\n</gallery> <imagemap>I.png\nrect 0 0 1 1 [[G2]]\n</imagemap> y",
    "nowiki and comments": "<nowiki>[[no]]</nowiki> <!-- [[hidden]] --> <!-- unclosed [[still]]",
    "headings": "lead\n== One ==\ntext\n=== Two ===\nmore\n= bad\n==x=y==\n====== six ======\n=======seven=======\nz",
    "style": "''i'' '''b''' '''''bi''''' ''''four'''' ''unclosed\n'''b ''i''' x'' end",
    "lists and rules": "* a\n# b\n; term : def\n:: dd\n----\nplain",
    "external links": "see http://x.org/a_(b). and [http://y.org t [[L]]] [//z.org] [x] mailto:a@b.c, ftp://f.",
    "entities": "&amp;&nbsp;&#931;&#x3A3;&bogus; &#0; &#x; caf&eacute;s",
    "tags": '<ref name="a">[[R]]</ref> <ref name=b/> <span style="x">s[[S]]</span> <div>d</div> <br> </br> <b>x',
    "tables": "{|\n|-\n| a || [[T1]]\n|-\n! h !! [[T2]]\n| style=\"x\" | c\n|}\n after {| unclosed",
    "templates with odd names": "{{#if:x|[[I]]}} {{subst:Foo}} {{Template:Bar}} {{DEFAULTSORT:x}} {{lc:y}} {{!}}",
    "broken markup": "[[a {{b [[c]] }} <div [[d]] {{e|[[f]]",
}


@pytest.mark.parametrize("text", CONSTRUCTS.values(), ids=CONSTRUCTS.keys())
def test_native_matches_oracle_on_constructs(text: str) -> None:
    oracle, native = parse_article(text), scan_article(text)
    for name in FIELDS:
        assert getattr(native, name) == getattr(oracle, name), name


def test_offsets_are_code_points() -> None:
    text = "𝔸 é [[Ζ|ζ]] 日本 {{t}} [[b]]"
    article = scan_article(text)
    assert [text[link.start : link.end] for link in article.links] == ["[[Ζ|ζ]]", "[[b]]"]
    assert all(text[run.start : run.end] == run.text for run in article.runs)


@pytest.mark.parametrize(
    "text",
    ["{{" * 4000 + "x" * 16_000, "[[" * 4000 + "x" * 16_000, "<!--" * 3000 + "x" * 12_000, "''a " * 6000],
    ids=["braces", "brackets", "comments", "ticks"],
)
def test_unclosed_openers_stay_fast(text: str) -> None:
    started = time.perf_counter()
    scan_article(text)
    assert time.perf_counter() - started < 1.0
