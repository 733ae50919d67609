"""`addlink rescore`: rows an older model made are evaluated again with the wiki's new bundle, on the
real services. The revisions' text comes from the sample dump, standing in for the MediaWiki API."""

from __future__ import annotations

import pytest

from pipeline_env import (WIKI, DumpRevisions, handled, make, retrained_models_dir, sample_articles,  # noqa: F401
                          services)
from scoring.bundle import BundleCache
from stream.ops.rescore import rescore
from stream.config import Settings
from stream.errors import AddlinkError
from stream.pipeline.outdated import row_model

pytestmark = pytest.mark.integration


def retrained(settings: Settings) -> Settings:
    """The same wiki with a new bundle: another model (see pipeline_env.retrained_models_dir)."""
    return settings.model_copy(update={"models_dir": retrained_models_dir()})


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
