"""Over-linking control end to end: with a target excluded in the wiki's configuration (a list
file), the real pipeline (Kafka, Redis, MariaDB, Elasticsearch, the test model trained on
tests/data/dumps/el-sample.xml.bz2) never stores a link to it, and still stores the others."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from pipeline_env import WIKI, delinked, handled, make, sample_articles, services, trained_models_dir  # noqa: F401
from scoring.bundle import load_bundle
from scoring.recommend import recommend
from scoring.titles import normalise_title

pytestmark = pytest.mark.integration


def offline_targets() -> Counter[str]:
    """What the model suggests for the delinked sample articles with GrowthExperiments' defaults."""
    bundle = load_bundle(trained_models_dir(), WIKI)
    found: Counter[str] = Counter()
    for page in sample_articles():
        result = recommend(delinked(page.text), title=normalise_title(page.title), page_id=page.page_id,
                           rev_id=page.rev_id, bundle=bundle, deadline_s=None)
        found.update(link.link_target for link in result.links)
    return found


def test_an_excluded_target_is_never_stored(make, tmp_path: Path) -> None:
    target, suggested = offline_targets().most_common(1)[0]
    assert suggested >= 2, "the model suggests it on several articles"
    listed = tmp_path / "excluded.txt"  # written as an editor might: first letter lower case, underscores
    listed.write_text(f"# over-linked\n{target[0].lower()}{target[1:].replace(' ', '_')}\n", encoding="utf-8")
    env = make(excluded_targets_file=str(listed))
    pages = sample_articles()
    env.publish(env.article_events())
    # A loaded test machine must not turn pages into scoring timeouts: this test is about what is stored.
    patient = env.settings.model_copy(update={"scoring": env.settings.scoring.model_copy(update={"deadline_seconds": 60})})
    env.run(lambda t: handled(t) >= len(pages), timeout=180, settings=patient)
    stored = [json.loads(data) for _, data in env.rows().values() if data is not None]
    targets = Counter(link["link_target"] for gelr in stored for link in gelr["links"])
    assert stored and targets, "the other links are still stored"
    assert target not in targets
    assert env.error_events() == []
