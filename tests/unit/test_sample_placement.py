"""Placement properties of every suggestion on every article of the sample dumps (el, uk, vi, ja, mr,
ltg; tests/data/dumps/ATTRIBUTION.md): the offset points at the link text, the text is never part of a
longer word, and match_index is what GrowthExperiments' editor needs. The dictionary is each sample's
own link anchors, so every article gets many suggestions.

match_index is checked by ``editor_annotations``, a plain rewrite of the editor's search
(AddLinkArticleTarget.js ``annotateSuggestions``; reference growthexperiments.md §3.5, mwaddlink.md §5.1),
written independently of ``scoring.mentions`` which ``place`` uses."""

import re
from pathlib import Path

import pytest

from model_fixture import DATA, local_prefixes, publish_dictionary
from scoring.backtest import remove_links
from scoring.bundle import load_bundle
from scoring.dumps import is_article, iter_pages
from scoring.recommend import recommend
from scoring.titles import normalise_title
from scoring.linktrail import for_language
from scoring.tokenize import at_word_boundary
from scoring.wikitext import ParsedArticle, parse_article

LANGUAGES = ["el", "uk", "vi", "ja", "mr", "ltg"]
JS_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")


def text_nodes(article: ParsedArticle) -> list[tuple[int, str]]:
    """(wikitext offset, text) of each DOM text node the editor walks: the editor spans (which leave a
    link trail's letters to the link, where Parsoid renders them)."""
    return [(span.start, article.wikitext[span.start : span.end]) for span in article.editor_spans]


def editor_annotations(nodes: list[tuple[int, str]], links) -> dict[int, int]:
    """Link number -> wikitext offset where the editor annotates it. As the editor does: one global
    case-sensitive regex alternating the phrases not yet all found (in JavaScript object key order:
    array-index keys first, numerically), run over each text node; every match counts for its phrase,
    and the suggestion whose match_index equals the count so far is annotated there."""
    wanted: dict[str, dict[int, int]] = {}
    for number, link in enumerate(links):
        wanted.setdefault(link.link_text, {})[link.match_index] = number
    seen = dict.fromkeys(wanted, 0)
    found: dict[int, int] = {}
    for node_start, text in nodes:
        pos = 0
        while wanted:
            keys = list(wanted)
            indices = sorted((k for k in keys if JS_ARRAY_INDEX.fullmatch(k) and int(k) < 2**32 - 1), key=int)
            order = indices + [k for k in keys if k not in indices]
            match = re.compile("|".join(map(re.escape, order))).search(text, pos)
            if match is None:
                break
            phrase = match.group()
            number = wanted[phrase].pop(seen[phrase], None)
            seen[phrase] += 1
            if number is not None:
                found[number] = node_start + match.start()
            if not wanted[phrase]:
                del wanted[phrase]
            pos = match.end()
    return found


def sample_articles(language: str):
    return [p for p in iter_pages(DATA / "dumps" / f"{language}-sample.xml.bz2") if is_article(p)]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_suggestion_is_placed_exactly(language, tmp_path: Path):
    pages = sample_articles(language)
    prefixes = local_prefixes(DATA / "dumps" / f"{language}-sample.xml.bz2")
    anchors: dict[str, set[str]] = {}
    trail = for_language(language)
    for page in pages:
        for key, target in remove_links(parse_article(page.text, link_trail=trail), namespace_prefixes=prefixes).pairs:
            anchors.setdefault(key, set()).add(target)
    publish_dictionary(tmp_path, f"{language}wiki", language, {k: sorted(t) for k, t in anchors.items()})
    bundle = load_bundle(tmp_path, f"{language}wiki")
    assert bundle.link_trail == trail
    checked = 0
    for page in pages:
        unlinked = remove_links(parse_article(page.text, link_trail=trail), namespace_prefixes=prefixes)
        for text in (page.text, unlinked.wikitext):
            links = recommend(text, title=normalise_title(page.title), page_id=page.page_id, rev_id=page.rev_id,
                              bundle=bundle, threshold=0.0, max_links=25, deadline_s=None).links
            article = parse_article(text, link_trail=trail)
            annotated = editor_annotations(text_nodes(article), links)
            for number, link in enumerate(links):
                start, end = link.wikitext_offset, link.wikitext_offset + len(link.link_text)
                assert text[start:end] == link.link_text
                # Words are judged on the rendered text of the run (markup such as &nbsp; is not a letter).
                run = next(r for r in article.runs if r.start <= start and end <= r.end)
                assert at_word_boundary(run.text, start - run.start, end - run.start, language), link
                assert annotated.get(number) == start, link  # the editor finds this very occurrence
                assert link.match_index <= text[:start].count(link.link_text)
                checked += 1
    assert checked > 30
