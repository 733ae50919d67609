"""The scorer on real Latgalian articles with a tiny real model trained in the session (model_fixture)."""

import dataclasses
import json

import numpy as np
import pytest

from model_fixture import LTG_EXCERPT, local_prefixes, trained_models
from scoring.recommend import recommend
from scoring.backtest import remove_links
from scoring.bundle import load_bundle
from scoring.dumps import is_article, iter_pages
from scoring.gelr import Gelr
from scoring.recommend import MAX_WIKITEXT_CHARS, ArticleTooLarge, page_blocks, score_page, select
from scoring.titles import normalise_anchor, normalise_title
from scoring.wikitext import parse_article


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return load_bundle(trained_models(tmp_path_factory.getbasetemp() / "ltg-models"), "ltgwiki")


@pytest.fixture(scope="module")
def articles():
    """The excerpt's articles, each also with its links turned into text (as in the backtest), so that
    there is something to suggest."""
    pages = []
    for page in iter_pages(LTG_EXCERPT):
        if is_article(page):
            unlinked = remove_links(parse_article(page.text), namespace_prefixes=local_prefixes(LTG_EXCERPT)).wikitext
            pages += [page, dataclasses.replace(page, text=unlinked)]
    return pages


@pytest.fixture(scope="module")
def rich_page(bundle, articles):
    """The (unlinked) article with the most suggestions at threshold 0."""
    return max(articles, key=lambda p: len(run(bundle, p).links))


def run(bundle, page, **kwargs):
    options = {"threshold": 0.0, "max_links": None, "deadline_s": None, **kwargs}
    return recommend(page.text, title=normalise_title(page.title), page_id=page.page_id, rev_id=page.rev_id,
                     bundle=bundle, **options)


def test_output_is_growthexperiments_gelr_data_with_every_field_typed(bundle, articles):
    results = [run(bundle, page, threshold=0.5, max_links=10) for page in articles]
    assert sum(len(r.links) for r in results) > 20  # the excerpt model does suggest links
    for result in results:
        data = json.loads(result.gelr.to_json())
        assert list(data) == ["links", "meta"]
        for index, link in enumerate(data["links"]):
            # score: a JSON number (PHP writes 1.0 as 1 and reads it back as a float), checked below
            assert {k: type(v) for k, v in link.items()} == {
                "link_text": str, "link_target": str, "match_index": int, "wikitext_offset": int,
                "score": type(link["score"]), "context_before": str, "context_after": str, "link_index": int,
            }
            assert type(link["score"]) in (int, float)
            assert link["link_index"] == index and 0.5 <= link["score"] <= 1.0
        meta = data["meta"]
        assert {k: type(v) for k, v in meta.items()} == {
            "application_version": str, "dataset_checksums": dict, "format_version": int, "task_timestamp": int
        }
        assert meta["format_version"] == 1 and meta["dataset_checksums"]["model"] == bundle.dataset_checksums["model"]
        assert Gelr.model_validate_json(result.gelr.to_json()) == result.gelr


def test_offsets_point_at_the_link_text_and_links_respect_mwaddlink_rules(bundle, articles):
    for page in articles:
        article = parse_article(page.text)
        blocks = page_blocks(article, normalise_title(page.title), bundle)
        links = run(bundle, page).links
        targets = [link.link_target for link in links]
        assert len(set(targets)) == len(targets)  # one link per target
        keys = [normalise_anchor(link.link_text) for link in links]
        assert len(set(keys)) == len(keys)  # one link per mention text
        for i, link in enumerate(links):
            assert page.text[link.wikitext_offset : link.wikitext_offset + len(link.link_text)] == link.link_text
            assert not blocks.blocks_key(keys[i])  # not inside the title or an existing anchor
            assert bundle.targets.id_of(link.link_target) not in blocks.targets  # not linked on the page yet
            assert not any(keys[i] in earlier for earlier in keys[:i])  # not inside an earlier suggestion


def test_threshold_and_maximum_are_applied_in_discovery_order(bundle, rich_page):
    page = rich_page
    everything = run(bundle, page).links
    assert len(everything) >= 4
    firsts = run(bundle, page, max_links=3).links
    assert [(l.link_text, l.link_target) for l in firsts] == [(l.link_text, l.link_target) for l in everything[:3]]
    high = run(bundle, page, threshold=0.7).links
    assert high and all(link.score >= 0.7 for link in high)
    assert len(high) < len(everything)


def test_all_candidates_of_a_page_are_scored_in_one_model_call(bundle, articles, monkeypatch):
    calls = []
    real = bundle.model.predict
    monkeypatch.setattr(bundle.model, "predict", lambda features: calls.append(len(features)) or real(features))
    page = max(articles, key=lambda p: len(p.text))
    result = run(bundle, page)
    assert calls == [result.candidates] and result.candidates > 10


def test_batch_selection_equals_mwaddlinks_one_mention_at_a_time_loop(bundle, articles):
    for page in articles[:40]:
        article = parse_article(page.text)
        scored = score_page(article, title=normalise_title(page.title), bundle=bundle, deadline_s=None)
        chosen_keys, chosen_targets, expected = [], set(), []
        for i, mention in enumerate(scored.mentions):
            rows = np.flatnonzero(scored.batch.mention == i)
            candidates = bundle.anchors.candidates(mention.key)
            if any(mention.key in k for k in chosen_keys) or chosen_targets & set(candidates):
                continue
            one_by_one = [float(bundle.model.predict(scored.batch.features[r : r + 1])[0]) for r in rows]
            best = int(np.argmax(one_by_one))
            if one_by_one[best] >= 0.5:
                target = int(scored.batch.target[rows[best]])
                chosen_keys.append(mention.key)
                chosen_targets.add(target)
                expected.append((mention.text, bundle.targets.title(target)))
        got = select(scored, bundle, threshold=0.5, max_links=None)
        assert [(l.link_text, l.link_target) for l in got] == expected


def test_excluded_sections_get_no_links(bundle, articles):
    def links_on_both_sides_of_the_first_heading(page):
        heading = page.text.find("\n==")
        offsets = [link.wikitext_offset for link in run(bundle, page).links]
        return heading > 0 and offsets and min(offsets) < heading < max(offsets)

    page = next(p for p in articles if links_on_both_sides_of_the_first_heading(p))
    heading = page.text.find("\n==")
    without_lead = run(bundle, page, excluded_sections=["%LEAD%"]).links
    assert without_lead and all(link.wikitext_offset > heading for link in without_lead)


def test_deadline_returns_the_part_scored(bundle, rich_page):
    page = rich_page
    ticks = iter(range(10**6))  # every reading of the clock is one second later
    result = recommend(page.text, title=normalise_title(page.title), page_id=1, rev_id=1, bundle=bundle,
                       threshold=0.0, max_links=None, deadline_s=2.5, clock=lambda: float(next(ticks)))
    assert not result.complete
    assert len(result.links) < len(run(bundle, page).links)


@pytest.mark.parametrize("text", ["", "   \n", "[[" * 5000, "{{" * 3000 + "x", "<ref>" * 2000, "'''" * 4000,
                                  "[[a|" * 2000 + "]]" * 2000, "{{a|" * 500 + "}}" * 500])
def test_odd_wikitext_gets_a_result_quickly(bundle, text):
    result = recommend(text, title="Test", page_id=1, rev_id=1, bundle=bundle, deadline_s=5.0)
    assert result.complete and isinstance(result.gelr, Gelr)


def test_oversized_wikitext_is_refused_without_parsing(bundle):
    with pytest.raises(ArticleTooLarge, match="exceeds"):
        recommend("a" * (MAX_WIKITEXT_CHARS + 1), title="Big", page_id=1, rev_id=2, bundle=bundle)


@pytest.mark.parametrize("kwargs", [{"threshold": 1.5}, {"max_links": 0}])
def test_bad_arguments_are_refused(bundle, kwargs):
    with pytest.raises(ValueError):
        recommend("text", title="T", page_id=1, rev_id=1, bundle=bundle, **kwargs)
