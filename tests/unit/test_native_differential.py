"""The native engine against the former pure-Python path (oracle_tokenize, oracle_mentions,
oracle_relatedness, oracle_features) on real articles: identical sentences and tokens for every text
run, identical mentions (text, key, offset, match_index, contexts, run and sentence), identical word
hashes, bit-identical candidate feature matrices (every column exact, NaN where the oracle has NaN)
and byte-identical gelr_data from ``recommend``.

The dictionary is each dump's own link anchors (what a trained dictionary is made of), so the walk
meets real prefixes and real misses; a second pass uses every word n-gram of the article as a key, so
every n-gram is a hit. Always runs on the committed excerpts (tests/data/dumps); set
ADDLINK_SAMPLE_DUMPS to a folder of full dumps (e.g. /work/shared/data/wikis) to check all of their
articles too (slow, ``-m slow``).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import oracle_features
import oracle_mentions
import oracle_relatedness
import oracle_tokenize
import pytest
from model_fixture import LTG_EXCERPT, publish_dictionary, trained_models

from scoring.backtest import remove_links
from scoring.bundle import Bundle, load_bundle
from scoring.dumps import is_article, iter_pages, read_siteinfo
from scoring.mentions import find_mentions
from scoring.namespaces import Namespaces
from scoring.features import page_candidates
from scoring.native import AnchorIndex, build_anchor_index
from scoring.recommend import page_blocks, recommend
from scoring.relatedness import word_hashes
from scoring.titles import is_article_link, normalise_anchor, normalise_title
from scoring.tokenize import sentences
from scoring.linktrail import LinkTrail, for_language
from scoring.wikitext import ParsedArticle, parse_article

COMMITTED = sorted((Path(__file__).resolve().parents[1] / "data" / "dumps").glob("*-sample.xml.bz2"))
FULL = sorted(Path(os.environ["ADDLINK_SAMPLE_DUMPS"]).glob("*.xml*")) if os.environ.get(
    "ADDLINK_SAMPLE_DUMPS") else []


def _articles(path: Path, namespaces: Namespaces, trail: LinkTrail) -> Iterator[tuple[str, ParsedArticle]]:
    """Each article as it is, and with its article links turned into text (more to find)."""
    for page in iter_pages(path):
        if is_article(page):
            article = parse_article(page.text, namespaces, trail)
            yield page.title, article
            unlinked = remove_links(article, namespace_prefixes=namespaces.prefixes())
            yield page.title, parse_article(unlinked.wikitext, namespaces, trail)


def _dump_anchors(path: Path, namespaces: Namespaces, trail: LinkTrail) -> dict[str, list[str]]:
    anchors: dict[str, set[str]] = {}
    for page in iter_pages(path):
        if is_article(page):
            for link in parse_article(page.text, namespaces, trail).links:
                key = normalise_anchor(link.text)
                if key and is_article_link(link.target, namespaces.prefixes()):
                    anchors.setdefault(key, set()).add(link.target)
    return {key: sorted(targets) for key, targets in anchors.items()}


def _mentions_agree(article: ParsedArticle, language: str, title: str, index: AnchorIndex,
                    excluded: list[str]) -> int:
    native = list(find_mentions(article, language=language, title=title, excluded_sections=excluded,
                                anchors=index))
    oracle = list(oracle_mentions.find_mentions(article, language=language, excluded_sections=excluded,
                                                is_anchor=index.__contains__))
    assert native == oracle, title
    return len(native)


def _features_agree(bundle: Bundle, article: ParsedArticle, title: str) -> int:
    """Native feature rows and word hashes of the page's unblocked mentions equal the oracle's."""
    native_hashes, oracle_hashes = word_hashes(article.wikitext), oracle_relatedness.word_hashes(article.wikitext)
    for got, want in zip(native_hashes, oracle_hashes, strict=True):
        assert got.dtype == want.dtype and np.array_equal(got, want), title
    blocks = page_blocks(article, title, bundle)
    mentions = [m for m in find_mentions(article, language=bundle.language, title=title, excluded_sections=(),
                                         anchors=bundle.anchors.keys) if not blocks.blocks_key(m.key)]
    length = max(len(article.wikitext), 1)
    arguments = (bundle.vectoriser.page_vector(article.wikitext),
                 np.array([bundle.anchors.index(m.key) for m in mentions], dtype=np.int64),
                 np.array([m.wikitext_offset / length for m in mentions], dtype=np.float32),
                 np.array([m.text[:1].isupper() for m in mentions], dtype=np.float32))
    native = page_candidates(bundle.feature_tables, bundle.targets, *arguments, linked=blocks.targets)
    oracle = oracle_features.page_candidates(bundle.anchors, bundle.targets, *arguments, linked=blocks.targets)
    for name in ("kept", "mention", "target", "features"):
        got, want = getattr(native, name), getattr(oracle, name)
        assert got.dtype == want.dtype and got.shape == want.shape, (title, name)
        assert got.tobytes() == want.tobytes(), (title, name)  # bit for bit, NaN payloads included
    return len(native.target)


def _oracle_find_mentions(article, *, language, title, excluded_sections, anchors):  # type: ignore[no-untyped-def]
    del title
    return oracle_mentions.find_mentions(article, language=language, excluded_sections=excluded_sections,
                                         is_anchor=anchors.__contains__)


def _check_dump(path: Path, models: Path, monkeypatch: pytest.MonkeyPatch, *, every_ngram: bool) -> None:
    site = read_siteinfo(path)
    language, namespaces = site.language, Namespaces.build(site.namespaces)
    wiki = f"{language}wiki"
    trail = for_language(language)
    anchors = _dump_anchors(path, namespaces, trail)
    publish_dictionary(models, wiki, language, anchors)
    bundle = load_bundle(models, wiki)
    index = bundle.anchors.keys  # the dump's anchors as a published bundle's memory-mapped FST
    mentions = links = 0
    for number, (title, article) in enumerate(_articles(path, namespaces, trail)):
        for run in article.runs:
            assert sentences(run.text, language) == oracle_tokenize.sentences(run.text, language), title
        excluded = ["%LEAD%"] if number % 4 == 3 else []
        mentions += _mentions_agree(article, language, title, index, excluded)
        _features_agree(bundle, article, normalise_title(title))
        if every_ngram:
            keys = oracle_tokenize.word_ngram_keys((r.text for r in article.runs), language)
            mentions += _mentions_agree(article, language, title, build_anchor_index(keys), [])
        options = {"title": normalise_title(title), "page_id": 1, "rev_id": 1, "bundle": bundle, "parsed": article,
                   "threshold": 0.0, "max_links": None, "deadline_s": None, "task_timestamp": 1}
        native = recommend(article.wikitext, **options)
        with monkeypatch.context() as patch:
            patch.setattr(importlib.import_module("scoring.recommend"), "find_mentions", _oracle_find_mentions)
            oracle = recommend(article.wikitext, **options)
        assert native.gelr.to_json() == oracle.gelr.to_json(), title
        links += len(native.links)
    assert mentions > 0 and links > 0


@pytest.mark.parametrize("dump", COMMITTED, ids=lambda p: p.name.split("-")[0])
def test_native_matches_python_on_committed_excerpts(dump: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _check_dump(dump, tmp_path, monkeypatch, every_ngram=True)


@pytest.mark.slow
@pytest.mark.skipif(not FULL, reason="set ADDLINK_SAMPLE_DUMPS to a folder of full sample dumps")
@pytest.mark.parametrize("dump", FULL, ids=lambda p: p.name.split("-")[0])
def test_native_matches_python_on_full_sample_dumps(dump: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _check_dump(dump, tmp_path, monkeypatch, every_ngram=False)


def test_native_feature_rows_match_python_with_a_trained_bundle(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Real counts, kurtosis (NaN too), relatedness vectors and link probabilities: a trained bundle."""
    bundle = load_bundle(trained_models(tmp_path_factory.mktemp("models")), "ltgwiki")
    namespaces = bundle.namespaces
    articles = _articles(LTG_EXCERPT, namespaces, bundle.link_trail)
    rows = sum(_features_agree(bundle, article, normalise_title(title)) for title, article in articles)
    assert rows > 0
