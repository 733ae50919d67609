"""Placement properties of every suggestion on every article of the sample dumps (el, uk, vi, ja, mr,
ltg; tests/data/dumps/ATTRIBUTION.md): the offset points at the link text, the text is never part of a
longer word, and match_index is what GrowthExperiments' editor needs. The dictionary is each sample's
own link anchors, so every article gets many suggestions."""

from pathlib import Path

import pytest

from model_fixture import DATA, local_prefixes, publish_dictionary
from scoring.backtest import remove_links
from scoring.bundle import load_bundle
from scoring.dumps import is_article, iter_pages
from scoring.mentions import editor_match_indices
from scoring.recommend import recommend
from scoring.titles import normalise_title
from scoring.tokenize import at_word_boundary
from scoring.wikitext import parse_article

LANGUAGES = ["el", "uk", "vi", "ja", "mr", "ltg"]


def sample_articles(language: str):
    return [p for p in iter_pages(DATA / "dumps" / f"{language}-sample.xml.bz2") if is_article(p)]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_suggestion_is_placed_exactly(language, tmp_path: Path):
    pages = sample_articles(language)
    prefixes = local_prefixes(DATA / "dumps" / f"{language}-sample.xml.bz2")
    anchors: dict[str, set[str]] = {}
    for page in pages:
        for key, target in remove_links(parse_article(page.text), namespace_prefixes=prefixes).pairs:
            anchors.setdefault(key, set()).add(target)
    publish_dictionary(tmp_path, f"{language}wiki", language, {k: sorted(t) for k, t in anchors.items()})
    bundle = load_bundle(tmp_path, f"{language}wiki")
    checked = 0
    for page in pages:
        for text in (page.text, remove_links(parse_article(page.text), namespace_prefixes=prefixes).wikitext):
            links = recommend(text, title=normalise_title(page.title), page_id=page.page_id, rev_id=page.rev_id,
                              bundle=bundle, threshold=0.0, max_links=25, deadline_s=None).links
            article = parse_article(text)
            placed = editor_match_indices(article, [(l.link_text, l.wikitext_offset) for l in links], language=language)
            for link, editor_index in zip(links, placed):
                start, end = link.wikitext_offset, link.wikitext_offset + len(link.link_text)
                assert text[start:end] == link.link_text
                # Words are judged on the rendered text of the run (markup such as &nbsp; is not a letter).
                run = next(r for r in article.runs if r.start <= start and end <= r.end)
                assert at_word_boundary(run.text, start - run.start, end - run.start, language), link
                assert link.match_index == editor_index
                assert link.match_index <= text[:start].count(link.link_text)
                checked += 1
    assert checked > 30
