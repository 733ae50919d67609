"""A wiki whose language the code knows nothing about, end to end: German (dewiki), from a small
dump written for this test (tests/data/dumps/de-synthetic.xml: 21 articles, a category, the
templates Begriffsklärung (holding __DISAMBIG__), its redirect BKL and Überarbeiten; files linked
with the alias "Bild:"). Its bundle is trained here; the real stages run on the real services.

What must come from the wiki's own data and would silently not fire otherwise:
- the excluded template written with the local namespace name ({{Vorlage:Überarbeiten}});
- the excluded category written with the local name ([[Kategorie:Ort in Bayern]]);
- disambiguation through {{BKL}}, a redirect to a template holding __DISAMBIG__, with nothing
  configured (the bundle derived both names from the dump);
- a target rejected twice, with an empty Redis (right after a deployment): its page id comes
  from the bundle's page table, not from a creation event the stream has seen.
"""

from __future__ import annotations

import functools
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest

from pipeline_env import DUMPS, PipelineEnv, handled, make, services  # noqa: F401
from scoring.dumps import DumpPage, is_article, iter_pages
from scoring.train import train
from stream.ops.backfill import page_change_event, wiki_domain

pytestmark = pytest.mark.integration

WIKI, LANGUAGE = "dewiki", "de"
DUMP = DUMPS / "de-synthetic.xml"
PAGES = {page.title: page for page in iter_pages(DUMP) if is_article(page)}
LANDSHUT = PAGES["Landshut"]


@functools.cache
def models_dir() -> Path:
    directory = Path(tempfile.mkdtemp(prefix="addlink-test-dewiki-"))
    report = train(DUMP, directory, wiki=WIKI, force=True, progress=False, rounds=20)
    assert report.manifest.language == LANGUAGE  # from the dump's xml:lang, not from code
    return directory


def unlinked(text: str) -> str:
    """The article without its links to other articles (files and categories stay)."""
    return re.sub(r"\[\[([^:\]|]+)\]\]", r"\1", text)


def edit(page: DumpPage, page_id: int, extra: str = "") -> dict[str, Any]:
    """An edit of ``page``'s unlinked text under another page id (the model proposes the same links)."""
    return page_change_event(wiki_id=WIKI, domain=wiki_domain(WIKI, LANGUAGE), page_id=page_id, title=page.title,
                             rev_id=page_id * 10, rev_dt="2024-03-02T12:00:00Z", text=unlinked(page.text) + extra)


def stored_targets(env: PipelineEnv, page_id: int) -> list[str]:
    ((_, data),) = env.rows(page_id).values()
    assert data is not None, f"page {page_id} has a NULL row"
    return [link["link_target"] for link in json.loads(data)["links"]]


def test_rules_fire_on_a_wiki_whose_language_is_nowhere_in_the_code(make) -> None:
    env = make(wiki_id=WIKI, models_dir=models_dir(), language=LANGUAGE, minimum_link_score=0.0,
               minimum_links_per_task=1, excluded_templates=["Überarbeiten"], excluded_categories=["Ort in Bayern"])
    plain, template, category, dab = 900_001, 900_002, 900_003, 900_004
    text_without_category = LANDSHUT.text.replace("[[Kategorie:Ort in Bayern]]", "")
    landshut = LANDSHUT.__class__(**{**LANDSHUT.__dict__, "text": text_without_category})
    env.publish([
        edit(landshut, plain),
        edit(landshut, template, "\n{{Vorlage:Überarbeiten}}"),
        edit(LANDSHUT, category),
        edit(landshut, dab, "\n{{BKL}}"),
    ])
    tally = env.run(lambda t: handled(t) >= 4)
    assert tally.summary()["outcomes"] == {"success": 1, "excluded_template": 1, "excluded_category": 1,
                                           "disambiguation_page": 1}
    assert set(stored_targets(env, plain)) >= {"Isar", "München", "Bayern"}
    assert env.tagged(plain)
    for page_id in (template, category, dab):
        assert env.rows(page_id) == {} and not env.tagged(page_id)


def test_rejected_targets_are_pruned_right_after_a_deployment(make) -> None:
    env = make(wiki_id=WIKI, models_dir=models_dir(), language=LANGUAGE, minimum_link_score=0.0,
               minimum_links_per_task=1)
    page = 900_010
    isar = PAGES["Isar"].page_id  # page id 104 of the dump; no event about "Isar" ever reaches the stream
    env.add_submissions([(page * 10 - 1, page, isar, None, "r"), (page * 10 - 2, page, isar, None, "r")])
    env.forget_redis_state()
    env.publish([edit(LANDSHUT, page)])
    tally = env.run(lambda t: handled(t) >= 1)
    assert tally.summary()["outcomes"] == {"success": 1}
    targets = stored_targets(env, page)
    assert "Isar" not in targets and {"München", "Bayern"} <= set(targets)


def test_a_partial_dump_model_with_the_whole_wikis_page_table_prunes_red_links(make, tmp_path: Path) -> None:
    # The wiki has no page "Isar" (deleted before the dumps), but articles still link it: a model trained
    # on a partial dump keeps every target, so only a page table of the whole wiki tells the red link.
    text = DUMP.read_text(encoding="utf-8")
    isar = re.search(r"  <page>\n    <title>Isar</title>.*?</page>\n", text, re.S)
    assert isar is not None
    wiki_dump = tmp_path / "dewiki-without-isar.xml"
    wiki_dump.write_text(text.replace(isar.group(0), ""), encoding="utf-8")
    partial, whole = tmp_path / "partial", tmp_path / "whole"
    train(wiki_dump, partial, wiki=WIKI, coverage="partial", force=True, progress=False, rounds=20)
    train(wiki_dump, whole, wiki=WIKI, coverage="partial", force=True, progress=False, rounds=20, pages_dump=wiki_dump)
    targets = {}
    for models, page in ((partial, 900_020), (whole, 900_021)):
        env = make(wiki_id=WIKI, models_dir=models, language=LANGUAGE, minimum_link_score=0.0, minimum_links_per_task=1)
        env.publish([edit(LANDSHUT, page)])
        assert env.run(lambda t: handled(t) >= 1).summary()["outcomes"] == {"success": 1}
        targets[models] = stored_targets(env, page)
    assert "Isar" in targets[partial], "a partial dump cannot tell a red link: kept"
    assert "Isar" not in targets[whole] and {"München", "Bayern"} <= set(targets[whole])
