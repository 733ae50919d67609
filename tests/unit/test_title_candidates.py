"""Every title and redirect title of the dump is a candidate for its own text (anchors.py, train.py).

A tiny wiki: "Athens" and "Sparta" are linked by every training article; "Zorba Town" is an article
nobody links, "Zorbaville" a redirect to it; "Mercury" is a disambiguation page ({{Disambig}}, whose
template holds __DISAMBIG__) and "1861" a number-only title. Training articles mention all of them
in plain text; the test articles link Athens, Sparta, Zorba Town and Zorbaville.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from scoring.anchors import REDIRECT_SOURCE, TITLE_SOURCE
from scoring.backtest import reachable
from scoring.bundle import ROWS_FILE, Bundle, load_bundle
from scoring.dumps import split_of
from scoring.features import FEATURES
from scoring.overlay import TitleOverlay
from scoring.recommend import recommend, score_page
from scoring.train import train
from scoring.wikitext import parse_article

HEADER = (
    '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" xml:lang="en"><siteinfo><sitename>T</sitename>'
    '<namespaces><namespace key="0" case="first-letter" /><namespace key="10" case="first-letter">Template'
    "</namespace></namespaces></siteinfo>\n"
)


def _page(page_id: int, title: str, text: str, ns: int = 0, redirect: str | None = None) -> str:
    marker = f'<redirect title="{redirect}" />' if redirect else ""
    return (f"<page><title>{title}</title><ns>{ns}</ns><id>{page_id}</id>{marker}<revision><id>{page_id}</id>"
            f"<timestamp>2023-01-01T00:00:00Z</timestamp><model>wikitext</model><text>{text}</text></revision></page>\n")


def tiny_dump(path: Path, *extra: str) -> Path:
    train_ids = [i for i in range(100, 400) if split_of(i) == "train"]
    test_ids = [i for i in range(100, 400) if split_of(i) == "test"]
    pages = [
        _page(train_ids[0], "Athens", "Athens is a city. [[Sparta]] is another."),
        _page(train_ids[1], "Sparta", "Sparta is a city. [[Athens]] is another."),
        _page(train_ids[2], "Zorba Town", "Zorba Town is a village nobody links."),
        _page(train_ids[3], "Mercury", "'''Mercury''' may mean: {{Disambig}}"),
        _page(train_ids[4], "Mercury (planet)", "A planet."),
        _page(train_ids[5], "Zorbaville", "#REDIRECT [[Zorba Town]]", redirect="Zorba Town"),
        _page(train_ids[6], "1861", "A year."),
        _page(train_ids[7], "Template:Disambig", "__DISAMBIG__ disambiguation", ns=10),
    ]
    pages += [
        _page(page_id, f"Story {n}", f"[[Athens]] met [[Sparta]] in {n}. Later Mercury and Zorba Town saw Athens. "
                                     "The year 1861 passed. Zorbaville is old. Sparta again.")
        for n, page_id in enumerate(train_ids[8:48])
    ]
    pages += [
        _page(page_id, f"Trip {n}", "We went from [[Athens]] to [[Zorba Town]] and [[Zorbaville]]. Then [[Sparta]].")
        for n, page_id in enumerate(test_ids[:10])
    ]
    path.write_text(HEADER + "".join(pages) + "".join(extra) + "</mediawiki>\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    root = tmp_path_factory.mktemp("titles")
    train(tiny_dump(root / "tiny.xml"), root / "models", wiki="testwiki", force=True, max_rounds=20, n_jobs=1,
          progress=False)
    return load_bundle(root / "models", "testwiki")


def candidates(bundle: Bundle, key: str) -> list[tuple[str, int, int]] | None:
    """(target title, count, source bits) of ``key``'s candidate rows, or None when it is no anchor."""
    index = bundle.anchors.index(key)
    if index < 0:
        return None
    rows = bundle.anchors.candidate_rows(index)
    return [(bundle.targets.title(int(bundle.anchors.target[r])), int(bundle.anchors.count[r]),
             int(bundle.anchors.source[r])) for r in rows]


def test_a_title_never_linked_is_a_candidate_for_its_own_text(bundle: Bundle) -> None:
    assert candidates(bundle, "zorba town") == [("Zorba Town", 0, TITLE_SOURCE)]
    assert bundle.anchors.link_prob[bundle.anchors.index("zorba town")] == 0.0  # 0 links, not 0/0
    # A linked anchor that is also its target's title carries the title bit beside its count.
    assert candidates(bundle, "athens") == [("Athens", 41, TITLE_SOURCE)]


def test_a_redirect_title_is_a_candidate_for_its_target(bundle: Bundle) -> None:
    assert candidates(bundle, "zorbaville") == [("Zorba Town", 0, REDIRECT_SOURCE)]


def test_disambiguation_pages_and_number_titles_are_no_candidates(bundle: Bundle) -> None:
    assert candidates(bundle, "mercury") is None
    assert candidates(bundle, "1861") is None
    assert candidates(bundle, "mercury (planet)") == [("Mercury (planet)", 0, TITLE_SOURCE)]


def test_titles_of_the_whole_wikis_page_table_are_candidates_too(tmp_path: Path) -> None:
    """With --pages-dump (the whole wiki), an article the training dump lacks is a candidate for its title."""
    dump = tiny_dump(tmp_path / "tiny.xml")
    whole = tiny_dump(tmp_path / "whole.xml", _page(5000, "Far Island", "An island."))
    train(dump, tmp_path / "models", wiki="testwiki", force=True, max_rounds=20, n_jobs=1, progress=False,
          pages_dump=whole)
    bundle = load_bundle(tmp_path / "models", "testwiki")
    assert candidates(bundle, "far island") == [("Far Island", 0, TITLE_SOURCE)]
    assert bundle.targets.known[bundle.targets.id_of("Far Island")] == 0  # no text of it in the training dump


def test_a_partial_dumps_targets_linked_from_two_articles_are_candidates_for_their_title(tmp_path: Path) -> None:
    """A sample of a wiki does not hold most of its articles, but two training articles linking a title
    show that the wiki has it: its own text becomes a candidate, as the whole wiki's page table would
    make it. One linking article is not enough (without it, the title would be unknown)."""
    train_ids = [i for i in range(400, 700) if split_of(i) == "train"]
    extra = [
        _page(train_ids[0], "Voyage 1", "Ships sailed to [[Far Island|the island]]. Far Island is far."),
        _page(train_ids[1], "Voyage 2", "Boats reached [[Far Island|that island]] and [[Lone Rock|a rock]]."),
    ]
    dump = tiny_dump(tmp_path / "tiny.xml", *extra)
    for coverage, expected in (("partial", [("Far Island", 0, TITLE_SOURCE)]), ("complete", None)):
        train(dump, tmp_path / coverage, wiki="testwiki", force=True, max_rounds=20, n_jobs=1, progress=False,
              coverage=coverage)
        bundle = load_bundle(tmp_path / coverage, "testwiki")
        assert candidates(bundle, "far island") == expected  # on a complete dump, a red link is no title
        assert candidates(bundle, "lone rock") is None


def test_gold_links_to_titles_nobody_linked_are_reachable(bundle: Bundle) -> None:
    assert reachable([("zorba town", "Zorba Town"), ("zorbaville", "Zorba Town")], bundle) == 2
    # Every gold link of the test articles (Athens, Zorba Town, Zorbaville, Sparta in each) is reachable.
    table = bundle.manifest.backtest
    assert table is not None and table.reachable == table.at(0.5).gold == 40


def test_training_rows_and_scoring_carry_the_source_features(bundle: Bundle) -> None:
    title, redirect, freq = (FEATURES.index(name) for name in ("title_anchor", "redirect_anchor", "freq"))
    with np.load(bundle.path / ROWS_FILE, allow_pickle=False) as rows:
        features = rows["features"]
    never_linked = features[features[:, freq] == 0]
    assert {(row[title], row[redirect]) for row in never_linked.tolist()} == {(1.0, 0.0), (0.0, 1.0)}
    assert np.isfinite(features[:, FEATURES.index("link_prob")]).all()
    assert np.isfinite(features[:, FEATURES.index("commonness")]).all()

    scored = score_page(parse_article("We saw Zorbaville, then Zorba Town."), title="Trip", bundle=bundle,
                        deadline_s=None)
    by_key = {m.key: scored.batch.features[i].tolist() for i, m in enumerate(scored.mentions)}
    assert by_key["zorbaville"][redirect] == 1.0 and by_key["zorbaville"][title] == 0.0
    assert by_key["zorba town"][title] == 1.0 and by_key["zorba town"][freq] == 0.0
    assert all(math.isfinite(value) for row in by_key.values() for value in row)


# --- articles created after training (scoring/overlay.py) ---------------------------------------------


def overlay_of(bundle: Bundle, *titles: str) -> TitleOverlay:
    return TitleOverlay.build(titles, anchors=bundle.anchors, language=bundle.language)


def suggested(bundle: Bundle, text: str, overlay: TitleOverlay | None, title: str = "Trip", **options) -> list[str]:
    result = recommend(text, title=title, page_id=1, rev_id=1, bundle=bundle, threshold=0.0, max_links=None,
                       deadline_s=None, overlay=overlay, **options)
    return [link.link_target for link in result.links]


def test_an_article_created_after_training_is_a_target_for_its_own_text(bundle: Bundle) -> None:
    text = "We sailed from Athens to Quixote Bay."
    assert "Quixote Bay" not in suggested(bundle, text, None)
    overlay = overlay_of(bundle, "Quixote Bay", "Athens", "1999", "Zorbaville")
    # Known targets, number-only titles and texts that are already anchors stay the bundle's.
    assert overlay.titles == ("Quixote Bay",)
    assert "Quixote Bay" in suggested(bundle, text, overlay)

    scored = score_page(parse_article(text), title="Trip", bundle=bundle, deadline_s=None, overlay=overlay)
    (row,) = [i for i, target in enumerate(scored.batch.target.tolist()) if scored.title(bundle, target) == "Quixote Bay"]
    features = dict(zip(FEATURES, scored.batch.features[row].tolist()))
    assert features["title_anchor"] == 1 and features["redirect_anchor"] == 0
    assert features["freq"] == features["target_known"] == features["relatedness"] == features["link_prob"] == 0
    assert scored.mentions[scored.batch.mention[row]].text == "Quixote Bay"


def test_a_new_article_follows_the_pages_rules(bundle: Bundle) -> None:
    overlay = overlay_of(bundle, "Quixote Bay")
    assert "Quixote Bay" not in suggested(bundle, "Quixote Bay is here. [[Quixote Bay|The bay]].", overlay)
    assert "Quixote Bay" not in suggested(bundle, "Quixote Bay is a bay.", overlay, title="Quixote Bay")
    assert "Quixote Bay" not in suggested(bundle, "To Quixote Bay.", overlay, excluded_targets=["Quixote_Bay"])
