"""An article created after training is suggested in other articles, from the stream alone.

The dewiki bundle of test_unseen_language.py (trained on tests/data/dumps/de-synthetic.xml) has never
heard of "Zorbastadt". A create event makes it an article; an edit of another page that mentions it
then gets it as a link target: ingest recorded the new article in Redis, the worker read it (at
most every ``scoring.new_titles_refresh_s``) and the scorer offered it as a candidate for its own
text (scoring/overlay.py). After a delete event it is never suggested again.

Thresholds: GrowthExperiments' defaults (minimum_link_score 0.6). The new article's row says "never
linked, not in the dump, no context" (freq, link_prob, target_known and relatedness 0); the model
trained on these 21 articles still scores it about 0.98, as it scores the page's other links, so no
lower threshold is needed. The first page, scored before the article exists, shows that the bundle
alone never proposes it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline_env import handled, make, services  # noqa: F401 - fixtures
from stream.ops.backfill import page_change_event, wiki_domain
from test_unseen_language import LANDSHUT, LANGUAGE, WIKI, models_dir, stored_targets, unlinked

pytestmark = pytest.mark.integration

NEW = "Zorbastadt"
NEW_ID = 910_000
MENTION = f"\n\nVon Landshut fährt man nach {NEW}, einer kleinen Stadt."


def event(page_id: int, title: str, text: str, kind: str = "edit") -> dict:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # after the bundle: a page created since
    return page_change_event(wiki_id=WIKI, domain=wiki_domain(WIKI, LANGUAGE), page_id=page_id, title=title,
                             rev_id=page_id * 10 + (kind == "delete"), rev_dt=now, kind=kind,
                             text=None if kind == "delete" else text)


def mentioning(page_id: int) -> dict:
    return event(page_id, f"Landshut {page_id}", unlinked(LANDSHUT.text) + MENTION)


def test_an_article_created_by_an_event_is_suggested_in_another_article(make) -> None:
    env = make(wiki_id=WIKI, models_dir=models_dir(), language=LANGUAGE)  # GrowthExperiments' thresholds
    before, after, deleted = 910_001, 910_002, 910_003
    env.publish([mentioning(before)])
    assert env.run(lambda t: handled(t) >= 1).summary()["outcomes"] == {"success": 1}
    assert NEW not in stored_targets(env, before), "the bundle alone does not know the new article"

    env.publish([event(NEW_ID, NEW, f"'''{NEW}''' ist eine kleine Stadt in [[Bayern]].", kind="create"),
                mentioning(after)])
    env.run(lambda t: handled(t) >= 2)
    assert NEW in stored_targets(env, after)

    env.publish([event(NEW_ID, NEW, "", kind="delete"), mentioning(deleted)])
    env.run(lambda t: handled(t) >= 2)
    assert NEW not in stored_targets(env, deleted)
