"""stream.core.eligibility: every GrowthExperiments rule and outcome, table-driven, on real articles.

Articles: tests/data/events/articles.json (CC BY-SA, attribution in ATTRIBUTION.md there).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from scoring.gelr import GelrLink
from scoring.dumps import read_siteinfo
from scoring.namespaces import Namespaces
from scoring.wikitext import ParsedArticle, parse_article
from stream.config import Settings, WikiSettings, load_settings
from stream.core.eligibility import (
    NotCandidate,
    Outcome,
    StoreFacts,
    not_candidate,
    pre_score_check,
    pre_score_verdict,
    prune_and_decide,
    quiet_period_ends,
    scored_cause,
    word_count,
)
from stream.core.events import RevisionRevert, SourceMessage, WorkItem, parse_event

DATA = Path(__file__).resolve().parents[1] / "data" / "events"
ARTICLES = {(a["wiki"], a["title"]): a for a in json.loads((DATA / "articles.json").read_text(encoding="utf-8"))}
LANGUAGES = {"elwiki": "el", "jawiki": "ja", "ltgwiki": "ltg", "mrwiki": "mr", "ukwiki": "uk", "viwiki": "vi"}

# An ordinary ltgwiki article: templates "Nadabeigts rakstīņs" (written {{nadabeigts rakstīņs}}) and
# "Mieneši i dīnys", categories "Pavasara mieness" and "Gregora kaleņders", 305 characters.
ARTICLE = ARTICLES[("ltgwiki", "Pavasara mieness")]
DUMPS = Path(__file__).resolve().parents[1] / "data" / "dumps"


def namespaces_of(wiki: str) -> Namespaces:
    """The wiki's namespace names from its sample dump's <siteinfo> (as a bundle carries them)."""
    return Namespaces.build(read_siteinfo(DUMPS / f"{wiki.removesuffix('wiki')}-sample.xml.bz2").namespaces)


PARSED = parse_article(ARTICLE["wikitext"], namespaces_of("ltgwiki"))
REV_DT = datetime.fromisoformat(ARTICLE["rev_dt"])
LATER = REV_DT + timedelta(days=2)
LTG = WikiSettings(language="ltg")


def item(**changes: Any) -> WorkItem:
    base = dict(
        wiki_id="ltgwiki",
        page_id=ARTICLE["page_id"],
        page_title=ARTICLE["title"].replace(" ", "_"),
        namespace_id=0,
        rev_id=ARTICLE["rev_id"],
        dt=REV_DT,
        event_dt=REV_DT,
        page_change_kind="edit",
        content_model="wikitext",
        source_topic="eqiad.mediawiki.page_content_change.v1",
        source_partition=0,
        source_offset=1,
    )
    return WorkItem(**(base | changes))


def wiki(**changes: Any) -> WikiSettings:
    return LTG.model_copy(update=changes)


def test_sample_article_is_what_the_table_below_assumes() -> None:
    assert PARSED.templates == ("Nadabeigts rakstīņs", "Mieneši i dīnys")
    assert PARSED.categories == ("Pavasara mieness", "Gregora kaleņders")
    assert pre_score_check(item(), PARSED, LTG, StoreFacts(), LATER) is None


# --- stage 2: one row per rule and outcome ---------------------------------------------------------

WORDS = word_count(ARTICLE["wikitext"])
ADD_LINK_EDIT = ARTICLE["rev_id"] - 3
CASES: list[tuple[str, dict[str, Any], ParsedArticle | None, WikiSettings, StoreFacts, datetime, Outcome | None, str]] = [
    # id, item changes, article, wiki, facts, now, expected outcome, expected reason
    ("eligible", {}, PARSED, LTG, StoreFacts(), LATER, None, ""),
    ("not wikitext", {"content_model": "json"}, PARSED, LTG, StoreFacts(), LATER, Outcome.OTHER, "content model json"),
    ("no content model", {"content_model": None}, PARSED, LTG, StoreFacts(), LATER, Outcome.OTHER, "content model unknown"),
    ("content hidden", {"is_content_visible": False}, PARSED, LTG, StoreFacts(), LATER, Outcome.OTHER, "content hidden"),
    ("no text", {}, None, LTG, StoreFacts(), LATER, Outcome.OTHER, "content not found"),
    ("deleted", {"page_change_kind": "delete"}, PARSED, LTG, StoreFacts(), LATER, Outcome.OTHER, "page not found"),
    ("too few words", {}, PARSED, wiki(minimum_word_count=WORDS + 1), StoreFacts(), LATER, Outcome.OTHER, f"word count too small ({WORDS})"),
    ("exactly minimum words", {}, PARSED, wiki(minimum_word_count=WORDS), StoreFacts(), LATER, None, ""),
    ("too many words", {}, PARSED, wiki(maximum_word_count=WORDS - 1), StoreFacts(), LATER, Outcome.OTHER, f"word count too large ({WORDS})"),
    ("exactly maximum words", {}, PARSED, wiki(maximum_word_count=WORDS), StoreFacts(), LATER, None, ""),
    ("edited a second too recently", {}, PARSED, LTG, StoreFacts(), REV_DT + timedelta(seconds=86399),
     Outcome.MINIMUM_TIME_SINCE_LAST_EDIT_DID_NOT_PASS, "minimum time since last edit did not pass"),
    ("quiet period just passed", {}, PARSED, LTG, StoreFacts(), REV_DT + timedelta(seconds=86400), None, ""),
    ("no quiet period", {}, PARSED, wiki(minimum_time_since_last_edit=0), StoreFacts(), REV_DT, None, ""),
    ("disambiguation magic word", {}, parse_article(ARTICLE["wikitext"] + "\n__DISAMBIG__"), LTG, StoreFacts(), LATER,
     Outcome.DISAMBIGUATION_PAGE, "disambiguation page"),
    ("configured disambiguation template", {}, PARSED, wiki(disambiguation_templates=["Mieneši_i_dīnys"]), StoreFacts(),
     LATER, Outcome.DISAMBIGUATION_PAGE, "disambiguation page"),
    ("excluded category (DB key)", {}, PARSED, wiki(excluded_categories=["Gregora_kaleņders"]), StoreFacts(), LATER,
     Outcome.EXCLUDED_CATEGORY, "has excluded category"),
    ("excluded category (prefixed)", {}, PARSED, wiki(excluded_categories=["Category:Pavasara mieness"]), StoreFacts(),
     LATER, Outcome.EXCLUDED_CATEGORY, "has excluded category"),
    ("other category", {}, PARSED, wiki(excluded_categories=["Vasaras mieness"]), StoreFacts(), LATER, None, ""),
    ("excluded template (first letter case)", {}, PARSED, wiki(excluded_templates=["nadabeigts rakstīņs"]), StoreFacts(),
     LATER, Outcome.EXCLUDED_TEMPLATE, "has excluded template"),
    ("excluded template (prefixed)", {}, PARSED, wiki(excluded_templates=["Template:Mieneši_i_dīnys"]), StoreFacts(),
     LATER, Outcome.EXCLUDED_TEMPLATE, "has excluded template"),
    ("other template", {}, PARSED, wiki(excluded_templates=["Infobox"]), StoreFacts(), LATER, None, ""),
    ("last edit is an Add-a-Link edit", {}, PARSED, LTG, StoreFacts(link_edit_revisions=frozenset({ARTICLE["rev_id"]})),
     LATER, Outcome.LAST_EDIT_LINK_RECOMMENDATION, "last edit is a link recommendation"),
    ("an older Add-a-Link edit, no revert", {}, PARSED, LTG, StoreFacts(link_edit_revisions=frozenset({ADD_LINK_EDIT})),
     LATER, None, ""),
    ("reverts an Add-a-Link edit",
     {"revert": RevisionRevert(method="undo", rev_reverted_oldest_id=ADD_LINK_EDIT - 1, rev_reverted_newest_id=ADD_LINK_EDIT)},
     PARSED, LTG, StoreFacts(link_edit_revisions=frozenset({ADD_LINK_EDIT})), LATER,
     Outcome.LAST_EDIT_LINK_RECOMMENDATION_REVERT, "last edit reverts a link recommendation edit"),
    ("reverts a range with the Add-a-Link edit as oldest",
     {"revert": RevisionRevert(method="rollback", rev_reverted_oldest_id=ADD_LINK_EDIT, rev_reverted_newest_id=ADD_LINK_EDIT + 2)},
     PARSED, LTG, StoreFacts(link_edit_revisions=frozenset({ADD_LINK_EDIT})), LATER,
     Outcome.LAST_EDIT_LINK_RECOMMENDATION_REVERT, "last edit reverts a link recommendation edit"),
    ("reverts other edits",
     {"revert": RevisionRevert(method="undo", rev_reverted_oldest_id=ADD_LINK_EDIT + 1, rev_reverted_newest_id=ADD_LINK_EDIT + 2)},
     PARSED, LTG, StoreFacts(link_edit_revisions=frozenset({ADD_LINK_EDIT})), LATER, None, ""),
    ("revert without its range (pre-1.9.0 shape)", {"revert": RevisionRevert(method="undo")}, PARSED, LTG,
     StoreFacts(link_edit_revisions=frozenset({ADD_LINK_EDIT})), LATER, None, ""),
    ("row with data", {}, PARSED, LTG, StoreFacts(row_state="data"), LATER, Outcome.ALREADY_STORED,
     "link recommendation already stored"),
    ("NULL row", {}, PARSED, LTG, StoreFacts(row_state="null"), LATER, Outcome.KNOWN_UNAVAILABLE,
     "link recommendation known to not exist"),
    # first failure wins, in GrowthExperiments' order
    ("hidden beats word count", {"is_content_visible": False}, PARSED, wiki(minimum_word_count=10_000), StoreFacts(),
     LATER, Outcome.OTHER, "content hidden"),
    ("word count beats quiet period", {}, PARSED, wiki(minimum_word_count=10_000), StoreFacts(), REV_DT, Outcome.OTHER,
     f"word count too small ({WORDS})"),
    ("quiet period beats disambiguation", {}, PARSED, wiki(disambiguation_templates=["Mieneši i dīnys"]), StoreFacts(),
     REV_DT, Outcome.MINIMUM_TIME_SINCE_LAST_EDIT_DID_NOT_PASS, "minimum time since last edit did not pass"),
    ("disambiguation beats excluded category", {}, PARSED,
     wiki(disambiguation_templates=["Mieneši i dīnys"], excluded_categories=["Pavasara mieness"]), StoreFacts(), LATER,
     Outcome.DISAMBIGUATION_PAGE, "disambiguation page"),
    ("excluded category beats excluded template", {}, PARSED,
     wiki(excluded_categories=["Pavasara mieness"], excluded_templates=["Mieneši i dīnys"]), StoreFacts(), LATER,
     Outcome.EXCLUDED_CATEGORY, "has excluded category"),
    ("excluded template beats Add-a-Link edit", {}, PARSED, wiki(excluded_templates=["Mieneši i dīnys"]),
     StoreFacts(link_edit_revisions=frozenset({ARTICLE["rev_id"]})), LATER, Outcome.EXCLUDED_TEMPLATE, "has excluded template"),
    ("Add-a-Link edit beats its revert rule",
     {"revert": RevisionRevert(rev_reverted_oldest_id=ADD_LINK_EDIT, rev_reverted_newest_id=ADD_LINK_EDIT)}, PARSED, LTG,
     StoreFacts(link_edit_revisions=frozenset({ADD_LINK_EDIT, ARTICLE["rev_id"]})), LATER,
     Outcome.LAST_EDIT_LINK_RECOMMENDATION, "last edit is a link recommendation"),
    ("Add-a-Link edit beats already stored", {}, PARSED, LTG,
     StoreFacts(row_state="data", link_edit_revisions=frozenset({ARTICLE["rev_id"]})), LATER,
     Outcome.LAST_EDIT_LINK_RECOMMENDATION, "last edit is a link recommendation"),
    ("quiet period beats already stored", {}, PARSED, LTG, StoreFacts(row_state="null"), REV_DT,
     Outcome.MINIMUM_TIME_SINCE_LAST_EDIT_DID_NOT_PASS, "minimum time since last edit did not pass"),
]


@pytest.mark.parametrize(
    ("changes", "article", "wiki_settings", "facts", "now", "outcome", "reason"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_pre_score_rules(
    changes: dict[str, Any],
    article: ParsedArticle | None,
    wiki_settings: WikiSettings,
    facts: StoreFacts,
    now: datetime,
    outcome: Outcome | None,
    reason: str,
) -> None:
    work = item(**changes)
    assert pre_score_check(work, article, wiki_settings, facts, now) == outcome
    verdict = pre_score_verdict(work, article, wiki_settings, facts, now)
    assert (verdict.outcome, verdict.reason) == (outcome, reason) if verdict else outcome is None


# Each wiki's disambiguation template as that wiki's settings would name it (the sample dumps are
# excerpts without template pages, so a bundle trained on them derives none: the per-wiki override).
DISAMBIGUATION_TEMPLATES = {"elwiki": "Αποσαφήνιση", "jawiki": "Aimai", "ltgwiki": "Zeimeibu škiršona",
                            "mrwiki": "निःसंदिग्धीकरण", "ukwiki": "Disambig", "viwiki": "Trang định hướng"}


@pytest.mark.parametrize("key", sorted(k for k, a in ARTICLES.items() if a["kind"] == "disambiguation"), ids=str)
def test_real_disambiguation_pages_are_recognised_with_the_wikis_templates(key: tuple[str, str]) -> None:
    article = ARTICLES[key]
    settings = WikiSettings(language=LANGUAGES[article["wiki"]],
                            disambiguation_templates=[DISAMBIGUATION_TEMPLATES[article["wiki"]]])
    work = item(wiki_id=article["wiki"], page_id=article["page_id"], rev_id=article["rev_id"])
    parsed = parse_article(article["wikitext"], namespaces_of(article["wiki"]))
    assert pre_score_check(work, parsed, settings, StoreFacts(), LATER) == Outcome.DISAMBIGUATION_PAGE
    # without disambiguation templates configured the same page passes this rule
    plain = settings.model_copy(update={"disambiguation_templates": ()})
    assert pre_score_check(work, parsed, plain, StoreFacts(), LATER) is None


def test_quiet_period_ends_a_configured_time_after_the_revision() -> None:
    assert quiet_period_ends(item(), LTG) == REV_DT + timedelta(days=1)
    assert quiet_period_ends(item(), wiki(minimum_time_since_last_edit=0)) == REV_DT


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("", 0),
        ("one two  three", 3),
        ("foo_bar baz-qux 42", 4),  # \w includes "_" and digits, "-" separates
        ("Ελληνική εφημερίδα Αθηνών", 3),  # Unicode letters are word characters
        ("ハングルで表す字母。略称EU", 2),  # a spaceless run counts once; "。" separates
        ("[[Lebanon|Lebanese]] '''musician'''", 3),  # counted on raw wikitext, like GrowthExperiments
    ],
)
def test_word_count_counts_unicode_word_runs(text: str, count: int) -> None:
    assert word_count(text) == count


# --- stage 1: candidates ----------------------------------------------------------------------------

SETTINGS: Settings = load_settings(
    wikis={
        "enwiki": {"language": "en", "content_namespaces": [0, 104]},
        "dewiki": {"language": "de", "enabled": False},
    }
)


def recorded_event(**changes: Any) -> dict[str, Any]:
    event = json.loads((DATA / "wme-sdk-go" / "page-change.json").read_text(encoding="utf-8"))[0]
    event.update(page_change_kind="edit")
    for path, value in changes.items():
        target = event
        *parents, last = path.split("__")
        for key in parents:
            target = target[key]
        target[last] = value
    return event


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, None),
        ({"meta__domain": "canary"}, NotCandidate.CANARY),
        ({"wiki_id": "frwiki"}, NotCandidate.WIKI_NOT_ENABLED),
        ({"wiki_id": "dewiki"}, NotCandidate.WIKI_NOT_ENABLED),
        ({"page__namespace_id": 1}, NotCandidate.NOT_CONTENT_NAMESPACE),
        ({"page__namespace_id": 104}, None),  # a configured extra content namespace
        ({"page__is_redirect": True}, NotCandidate.REDIRECT),
        ({"page_change_kind": "delete", "changelog_kind": "delete"}, NotCandidate.PAGE_DELETED),
        ({"meta__domain": "canary", "wiki_id": "frwiki"}, NotCandidate.CANARY),
    ],
    ids=["article", "canary", "unknown wiki", "disabled wiki", "talk page", "portal ns", "redirect", "delete", "canary first"],
)
def test_not_candidate(changes: dict[str, Any], expected: NotCandidate | None) -> None:
    event = parse_event(json.dumps(recorded_event(**changes)).encode())
    assert not_candidate(event, SETTINGS) == expected


# --- stage 3: after scoring -------------------------------------------------------------------------


def link(target: str, score: float, index: int) -> GelrLink:
    return GelrLink(
        link_text=target.lower(),
        link_target=target,
        match_index=0,
        wikitext_offset=10 * index,
        score=score,
        context_before="",
        context_after="",
        link_index=index,
    )


def links(*scores: float) -> list[GelrLink]:
    return [link(f"Target {i}", score, i) for i, score in enumerate(scores)]


GOOD3 = links(0.9, 0.8, 0.7)
PAGE_IDS = {"Target 0": 100, "Target 1": 101, "Target 2": 102}
GONE_0 = StoreFacts(target_gone=lambda title: title == "Target 0")
REJECTED_0_1 = StoreFacts(rejected_target_ids=frozenset({100, 101}), target_page_id=PAGE_IDS.get)

DECISIONS: list[tuple[str, list[GelrLink], WikiSettings, StoreFacts, Outcome, list[int] | None, bool]] = [
    # id, links (as the scorer returns them: threshold and cap already applied), wiki, facts, outcome,
    # link_index of stored links, NULL row
    ("three good links", GOOD3, LTG, StoreFacts(), Outcome.SUCCESS, [0, 1, 2], False),
    ("score exactly the threshold counts", links(0.6, 0.6), LTG, StoreFacts(), Outcome.SUCCESS, [0, 1], False),
    ("custom limits", links(0.7), wiki(minimum_link_score=0.66, maximum_links_per_task=1, minimum_links_per_task=1),
     StoreFacts(), Outcome.SUCCESS, [0], False),
    ("one good link", links(0.9, 0.3), LTG, StoreFacts(), Outcome.GOOD_LINKS_COUNT_TOO_SMALL, None, True),
    ("no links at all", [], LTG, StoreFacts(), Outcome.ALL_RECOMMENDATIONS_PRUNED, None, True),
    ("a gone target pruned, two left", GOOD3, LTG, GONE_0, Outcome.SUCCESS, [1, 2], False),
    ("a gone target pruned, one left", links(0.9, 0.8), LTG, GONE_0, Outcome.GOOD_LINKS_COUNT_TOO_SMALL, None, False),
    ("every target gone", links(0.9), LTG, GONE_0, Outcome.ALL_RECOMMENDATIONS_PRUNED, None, False),
    ("rejected twice, pruned, one left", GOOD3, LTG, REJECTED_0_1, Outcome.GOOD_LINKS_COUNT_TOO_SMALL, None, True),
    ("every target rejected", links(0.9, 0.8), LTG, REJECTED_0_1, Outcome.ALL_RECOMMENDATIONS_PRUNED, None, True),
    ("rejected target whose page id is unknown is kept", GOOD3, LTG,
     StoreFacts(rejected_target_ids=frozenset({100}), target_page_id=lambda title: None), Outcome.SUCCESS, [0, 1, 2], False),
    ("gone and rejected: red link decides the NULL row", links(0.9, 0.8), LTG,
     replace(REJECTED_0_1, target_gone=lambda title: title == "Target 0"), Outcome.ALL_RECOMMENDATIONS_PRUNED, None, False),
    ("the service's links are pruned, never refilled", links(*[0.9] * 10), LTG, GONE_0, Outcome.SUCCESS,
     list(range(1, 10)), False),
    ("submission exists", GOOD3, LTG, StoreFacts(has_submission=True), Outcome.OTHER, None, False),
    ("submission exists but all pruned: GE writes NULL first", links(0.9, 0.8), LTG,
     replace(REJECTED_0_1, has_submission=True), Outcome.ALL_RECOMMENDATIONS_PRUNED, None, True),
    ("submission beats too few links", links(0.9), LTG, StoreFacts(has_submission=True), Outcome.OTHER, None, False),
]


@pytest.mark.parametrize(
    ("scored", "wiki_settings", "facts", "outcome", "stored", "null_row"),
    [case[1:] for case in DECISIONS],
    ids=[case[0] for case in DECISIONS],
)
def test_prune_and_decide(
    scored: list[GelrLink],
    wiki_settings: WikiSettings,
    facts: StoreFacts,
    outcome: Outcome,
    stored: list[int] | None,
    null_row: bool,
) -> None:
    decision = prune_and_decide(scored, wiki_settings, facts)
    assert decision.outcome == outcome
    assert decision.write_null_row is null_row
    if stored is None:
        assert decision.links is None
    else:
        assert decision.links is not None
        assert [stored_link.link_index for stored_link in decision.links] == stored
        assert all(stored_link is scored[stored_link.link_index] for stored_link in decision.links)  # untouched


def test_decision_counts_pruned_links() -> None:
    facts = replace(REJECTED_0_1, target_gone=lambda title: title == "Target 2")
    decision = prune_and_decide(links(0.9, 0.8, 0.7, 0.95, 0.85), LTG, facts)
    assert (decision.pruned_gone, decision.pruned_rejected) == (1, 2)
    assert decision.outcome == Outcome.SUCCESS and [x.link_index for x in decision.links or ()] == [3, 4]


@pytest.mark.parametrize(("scored", "facts", "mentions", "cause"), [
    ([], StoreFacts(), 0, "no_anchor_in_text"),
    ([], StoreFacts(), 4, "no_link_above_threshold"),
    (links(0.9), GONE_0, 4, "red_links"),
    (links(0.9, 0.8), REJECTED_0_1, 4, "rejected_targets"),
    (links(0.9, 0.8), replace(REJECTED_0_1, target_gone=lambda title: title == "Target 0"), 4,
     "red_links_and_rejected_targets"),
    (links(0.9), StoreFacts(), 4, "fewer_good_links_than_minimum"),
    (GOOD3, StoreFacts(has_submission=True), 4, "submission_exists"),
    (GOOD3, StoreFacts(), 4, ""),
])
def test_scored_cause_says_why_a_scored_page_got_nothing(scored, facts, mentions, cause) -> None:
    decision = prune_and_decide(scored, LTG, facts)
    assert scored_cause(decision, returned=len(scored), mentions=mentions) == cause


def test_outcome_names_are_growthexperiments_names() -> None:
    assert [outcome.value for outcome in Outcome] == [
        "success", "already_stored", "known_unavailable", "all_recommendations_pruned", "good_links_count_too_small",
        "minimum_time_since_last_edit_did_not_pass", "disambiguation_page", "excluded_category", "excluded_template",
        "last_edit_link_recommendation", "last_edit_link_recommendation_revert", "other",
    ]


def test_work_items_built_from_events_feed_the_rules() -> None:
    raw = recorded_event()
    raw["revision"]["content_slots"]["main"]["content_body"] = ARTICLE["wikitext"]
    event = parse_event(json.dumps(raw).encode())
    source = SourceMessage("eqiad.mediawiki.page_content_change.v1", 0, 7, None, b"", None)
    work = WorkItem.from_event(event, source, include_wikitext=True)
    parsed = parse_article(work.wikitext or "")
    now = event.revision.rev_dt + timedelta(days=1)
    assert pre_score_check(work, parsed, LTG, StoreFacts(), now) is None
    assert pre_score_check(work, parsed, LTG, StoreFacts(), now - timedelta(seconds=1)) == (
        Outcome.MINIMUM_TIME_SINCE_LAST_EDIT_DID_NOT_PASS
    )
    assert now.tzinfo is not None and now.utcoffset() == UTC.utcoffset(None)
