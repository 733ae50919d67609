"""Synthetic dumps (scoring/synthetic.py) recombined from the committed sample excerpts."""

from __future__ import annotations

import bz2
import re
from collections import Counter
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from scoring.dumps import DumpPage, is_article, iter_pages, read_siteinfo
from scoring.namespaces import Namespaces
from scoring.synthetic import SyntheticWiki, write_dump
from scoring.synthetic_material import Material, harvest
from scoring.titles import is_article_link, normalise_title

DUMPS = Path(__file__).resolve().parents[1] / "data" / "dumps"
EL = DUMPS / "el-sample.xml.bz2"
JA = DUMPS / "ja-sample.xml.bz2"
LINK = re.compile(r"\[\[([^\[\]|]*)(?:\|([^\[\]]*))?\]\]")
ARTICLES = 1000


@cache
def material(source: Path) -> Material:
    return harvest([source], seed=0)


@cache
def pages(tmp: Path, seed: int = 3, n: int = ARTICLES) -> tuple[list[DumpPage], list[Exception]]:
    path = tmp / f"synthetic-{seed}-{n}.xml"
    write_dump(SyntheticWiki(material(EL), n, seed=seed, redirects_per_article=1.4), path)
    errors: list[Exception] = []
    return list(iter_pages(path, on_error=errors.append)), errors


def article_links(page: DumpPage) -> list[tuple[str, str]]:
    """(normalised target, anchor or "") of the page's article links (category lines left out)."""
    site = read_siteinfo(EL)
    return [(normalise_title(target), anchor) for target, anchor in LINK.findall(page.text)
            if is_article_link(target, Namespaces.build(site.namespaces).prefixes())]


@pytest.fixture(scope="module")
def tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("synthetic")


def test_harvest_takes_siteinfo_redirect_word_and_shares_from_the_source():
    m = material(EL)
    assert m.site == read_siteinfo(EL) and m.header.startswith("<mediawiki") and m.header.endswith("</siteinfo>")
    assert m.articles > 0 and m.sentences and m.title_words and m.lengths and m.paragraph_sizes
    assert 0 < m.piped_share < 1 and m.sentence_joiner == " "
    # Every kept sentence is cut at its links only: no bracket left inside a piece.
    assert all("[[" not in piece and "]]" not in piece for sentence in m.sentences for piece in sentence)
    assert any(len(sentence) > 1 for sentence in m.sentences)
    assert m.list_items and all(item[0][:1] in "*#" for item in m.list_items) and 0 < m.list_share


def test_sentences_of_a_language_without_spaces_are_joined_without_one():
    assert material(JA).sentence_joiner == ""


def test_the_dump_reads_back_without_a_malformed_page_and_keeps_the_siteinfo(tmp):
    read, errors = pages(tmp)
    assert errors == []
    assert sum(is_article(p) for p in read) == ARTICLES
    assert read_siteinfo(tmp / f"synthetic-3-{ARTICLES}.xml") == read_siteinfo(EL)
    assert len({p.page_id for p in read}) == len(read) and len({p.rev_id for p in read}) == len(read)


def test_articles_take_the_sources_lengths_with_lists_and_categories(tmp):
    read, _ = pages(tmp)
    articles = [p for p in read if is_article(p)]
    ratio = np.median([len(p.text) for p in articles]) / np.median(material(EL).lengths)
    assert 0.8 < ratio < 1.5  # goals are drawn from the source's lengths; the last block overshoots
    assert sum("\n*" in p.text or "\n#" in p.text for p in articles) > len(articles) / 10
    category = f"[[{read_siteinfo(EL).namespaces[14]}:"
    assert sum(category in p.text for p in articles) > len(articles) / 10


def test_same_seed_same_bytes_other_seed_other_dump(tmp):
    wiki = SyntheticWiki(material(EL), 200, seed=7)
    write_dump(wiki, tmp / "a.xml")
    write_dump(SyntheticWiki(material(EL), 200, seed=7), tmp / "b.xml")
    write_dump(SyntheticWiki(material(EL), 200, seed=8), tmp / "c.xml")
    assert (tmp / "a.xml").read_bytes() == (tmp / "b.xml").read_bytes() != (tmp / "c.xml").read_bytes()


def test_bz2_when_the_name_says_so(tmp):
    write_dump(SyntheticWiki(material(EL), 200, seed=7), tmp / "d.xml.bz2")
    write_dump(SyntheticWiki(material(EL), 200, seed=7), tmp / "d.xml")
    compressed = (tmp / "d.xml.bz2").read_bytes()
    assert compressed[:3] == b"BZh" and bz2.decompress(compressed) == (tmp / "d.xml").read_bytes()


def test_titles_are_unique_and_redirects_near_the_ratio_asked(tmp):
    read, _ = pages(tmp)
    titles = [normalise_title(p.title) for p in read]
    assert len(set(titles)) == len(titles)
    redirects = [p for p in read if p.redirect is not None]
    assert 1.25 < len(redirects) / ARTICLES < 1.55
    articles = {normalise_title(p.title) for p in read if is_article(p)}
    assert all(p.redirect in articles for p in redirects)


def test_every_link_points_to_a_page_and_aliases_are_the_targets_redirects(tmp):
    read, _ = pages(tmp)
    redirect_of = {normalise_title(p.title): p.redirect for p in read if p.redirect is not None}
    titles = {normalise_title(p.title) for p in read}
    links = [link for p in read if is_article(p) for link in article_links(p)]
    assert len(links) > 10 * ARTICLES
    assert all(target in titles for target, _ in links)
    piped = [(target, anchor) for target, anchor in links if anchor]
    assert piped and all(redirect_of.get(normalise_title(anchor)) == target for target, anchor in piped)


def test_target_popularity_follows_a_power_law(tmp):
    read, _ = pages(tmp)
    redirect_of = {normalise_title(p.title): p.redirect for p in read if p.redirect is not None}
    counts = Counter(
        redirect_of.get(t, t)
        for p in read if is_article(p)
        for t, _ in article_links(p)
    )
    ranked = np.array(sorted(counts.values(), reverse=True), dtype=float)
    top = ranked[: ARTICLES // 100].sum() / ranked.sum()
    assert top > 0.08  # the top 1 % of the articles get more than 8 times their uniform share
    ranks = np.arange(1, len(ranked) + 1)
    slope = np.polyfit(np.log(ranks[5:300]), np.log(ranked[5:300]), 1)[0]
    assert -1.3 < slope < -0.5


def test_memory_does_not_depend_on_n():
    # Titles, redirects and targets are functions of the index: a huge wiki costs nothing to set up,
    # and its last article is as cheap to make as its first.
    huge = SyntheticWiki(material(EL), 10**9, seed=1)
    last = huge.title(10**9 - 1)
    assert last and last != huge.title(0) and huge.text(10**9 - 1)
    assert len({huge.title(i) for i in range(0, 10**9, 10**6)}) == 1000
