"""`addlink rescore`: rows an older model made are evaluated again with the wiki's new bundle, on the
real services. The revisions' text comes from the sample dump, standing in for the MediaWiki API."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

import pytest

from pipeline_env import DUMPS, LANGUAGE, WIKI, delinked, handled, make, sample_articles, services  # noqa: F401
from scoring.bundle import BundleCache
from stream.ops.rescore import rescore
from stream.config import Settings
from stream.pipeline.content import Revision
from stream.errors import AddlinkError
from stream.pipeline.outdated import row_model

pytestmark = pytest.mark.integration


class DumpRevisions:
    """The sample dump's revisions as the Action API would give them (text as published, delinked)."""

    def __init__(self) -> None:
        self.pages = {page.rev_id: page for page in sample_articles()}
        self.asked: list[int] = []

    def revision(self, *, wiki_id: str, domain: str | None, rev_id: int) -> Revision | None:
        self.asked.append(rev_id)
        page = self.pages.get(rev_id)
        if page is None:
            return None
        return Revision(title=page.title.replace(" ", "_"), namespace_id=0,
                        timestamp=datetime.fromisoformat(page.timestamp), wikitext=delinked(page.text))


def retrained(settings: Settings) -> Settings:
    """The same wiki with a new bundle that names a shared model (el and ltg pooled): another model,
    another checksum. (Retraining the tiny el excerpt alone gives the same model: its few rows make
    cross-validation choose the same setting and round whatever the cap.)"""
    from scoring.shared import train_shared
    from scoring.train import train

    directory = Path(tempfile.mkdtemp(prefix="addlink-test-models-new-"))
    train(DUMPS / "el-sample.xml.bz2", directory, wiki=WIKI, language=LANGUAGE, force=True, progress=False, max_rounds=20)
    train(DUMPS / "ltg-sample.xml.bz2", directory, wiki="ltgwiki", force=True, progress=False, max_rounds=20)
    train_shared(directory, "pooled", [WIKI, "ltgwiki"])
    train(DUMPS / "el-sample.xml.bz2", directory, wiki=WIKI, language=LANGUAGE, force=True, progress=False,
          shared_model="pooled")
    return settings.model_copy(update={"models_dir": directory})


def test_rows_of_an_older_model_are_rescored_with_the_new_one_and_only_once(make) -> None:
    env = make()
    pages = sample_articles()
    env.publish(env.article_events())
    env.run(lambda t: handled(t) >= len(pages), timeout=90)
    old_model = BundleCache(env.settings.models_dir).get(WIKI).dataset_checksums["model"]
    assert {row_model(data) for _, data in env.rows().values() if data} == {old_model}

    settings = retrained(env.settings)
    new_model = BundleCache(settings.models_dir).get(WIKI).dataset_checksums["model"]
    assert new_model != old_model
    revisions = DumpRevisions()
    report = rescore(settings, WIKI, revisions=revisions, progress=False, rate=50)

    assert report.rows_checked == len(pages) and report.rescored == len(pages) and report.current == 0
    assert sum(report.outcomes.values()) == len(pages) and set(report.outcomes) <= {
        "success", "good_links_count_too_small", "all_recommendations_pruned"}, report.outcomes
    rows = env.rows()
    assert {row_model(data) for _, data in rows.values() if data} <= {new_model}, "no row of the old model is left"
    assert set(rows) <= {page.rev_id for page in pages}
    tagged = env.tagged_pages()
    assert tagged == {page for page, data in rows.values() if data is not None}, "tag exactly where a row has data"
    assert report.outcomes.get("success", 0) == len(tagged)

    again = rescore(settings, WIKI, revisions=DumpRevisions(), progress=False)
    assert again.rescored == 0 and again.current == len(tagged), "current rows are left alone"


def test_rescore_without_a_text_source_is_a_configuration_error(make) -> None:
    env = make()
    with pytest.raises(AddlinkError, match="fetch_missing_content"):
        rescore(env.settings, WIKI, progress=False)
