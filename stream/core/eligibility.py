"""GrowthExperiments' eligibility rules for Add-a-Link tasks, as pure functions (no I/O).

Source: LinkRecommendationUpdater::processCandidate and PruningLinkRecommendationProvider
(reference growthexperiments.md §2.1, §2.4, §5.2). Three stages, each "first failure wins" in
GrowthExperiments' order, each failure counted under GrowthExperiments' outcome name
(`refreshLinks_total{outcome}`, §1.5):

1. `not_candidate(event, settings)` - what the PHP script never even looks at, because its
   candidate query only returns NS0 non-redirect pages of a wiki where the feature is on: canaries,
   wikis not enabled here, non-content namespaces, redirects, deletions. These are NOT outcomes
   (GrowthExperiments does not count them); the reason is for ingest's own counter.
2. `pre_score_check(item, article, wiki, facts, now)` - evaluateTitle() and the stored-state
   check, before any scoring, in this order:
     main slot not usable wikitext (wrong model, hidden, no content) ........ other
     word count (`\\w+` matches) outside [minimum_word_count, maximum] ...... other
     now - revision time < minimum_time_since_last_edit .................... minimum_time_since_last_edit_did_not_pass
     disambiguation page ................................................... disambiguation_page
     an excluded category .................................................. excluded_category
     an excluded template .................................................. excluded_template
     the revision is an Add-a-Link edit .................................... last_edit_link_recommendation
     the revision reverts a range containing an Add-a-Link edit ............ last_edit_link_recommendation_revert
     a row with data for the revision ...................................... already_stored
     a NULL row for the revision ........................................... known_unavailable
3. `prune_and_decide(links, wiki, facts)` - after scoring: the service's own limits, pruning, the
   submission race check and the task-type criteria; decides whether GrowthExperiments would write
   a NULL row (only in §2.1 steps 3 and 5, and only when no red link was pruned).

Where the facts come from and what differs from MediaWiki (documented decisions):
- Templates, categories and disambiguation are read from the revision's wikitext (parse_article),
  not from templatelinks/categorylinks/page_props: templates/categories added by other templates
  are not seen, and a page is a disambiguation page when it uses one of the wiki's
  `disambiguation_templates` or contains `__DISAMBIG__` (what sets page_props.disambiguation).
  Those templates come from the wiki's own dump (the bundle: templates holding `__DISAMBIG__` and
  their redirects) unless the wiki's settings list them; the worker hands the rules the settings
  with that list filled in. Template and category names are recognised with the wiki's own
  namespace names (bundle), and compare after MediaWiki title normalisation (first letter
  upper-case, "_" = " "); configured names may carry the canonical "Template:"/"Category:" prefix.
- Word count: Python's Unicode `\\w+`. GrowthExperiments' `preg_match_all('/\\w+/')` has no /u
  flag, so PHP counts ASCII word characters only (non-Latin text counts ~0); the bounds are off
  by default, and counting real words is what a configured bound means.
- "Add-a-Link edit": page/change events carry no change tags. A revision is an Add-a-Link edit
  when growthexperiments_link_submissions has it as `gels_edit_revision` (every accepted Add-a-Link
  save records its new revision there) - `StoreFacts.link_edit_revisions`. A revert is recognised
  from `revision.revert` (page/change 1.9.0+), the same reverted range GrowthExperiments reads from
  the revert tag's data; events older than 1.9.0 say nothing, so the revert rule cannot fire.
- Red links: GrowthExperiments prunes targets with no local page. `StoreFacts.target_gone` says so
  from the bundle's page table (the dump's titles; only a complete dump can tell a red link) with
  the stream's create, move, delete and undelete events laid over it (stream/pipeline/page_lookup.py).
  These count as pruned red links for the NULL-row decision.
- Rejected targets: `gels_target` is a page id; `StoreFacts.target_page_id` maps a title to its
  page id the same way, and a title it cannot resolve is kept (GrowthExperiments prunes again at
  serve time).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol, TypeVar

from scoring.site_scan import DISAMBIGUATION_MAGIC_WORD
from scoring.titles import normalise_title
from stream.config import Settings, WikiSettings
from stream.core.events import WIKITEXT, PageChangeEvent, WorkItem, is_canary

_WORD = re.compile(r"\w+")


class Outcome(StrEnum):
    """GrowthExperiments' outcome names (refreshLinks_total{outcome}), spelled identically."""

    SUCCESS = "success"
    ALREADY_STORED = "already_stored"
    KNOWN_UNAVAILABLE = "known_unavailable"
    ALL_RECOMMENDATIONS_PRUNED = "all_recommendations_pruned"
    GOOD_LINKS_COUNT_TOO_SMALL = "good_links_count_too_small"
    MINIMUM_TIME_SINCE_LAST_EDIT_DID_NOT_PASS = "minimum_time_since_last_edit_did_not_pass"
    DISAMBIGUATION_PAGE = "disambiguation_page"
    EXCLUDED_CATEGORY = "excluded_category"
    EXCLUDED_TEMPLATE = "excluded_template"
    LAST_EDIT_LINK_RECOMMENDATION = "last_edit_link_recommendation"
    LAST_EDIT_LINK_RECOMMENDATION_REVERT = "last_edit_link_recommendation_revert"
    OTHER = "other"


class NotCandidate(StrEnum):
    """Why an event is not even a candidate (GrowthExperiments' candidate query excludes it)."""

    CANARY = "canary"
    WIKI_NOT_ENABLED = "wiki_not_enabled"
    NOT_CONTENT_NAMESPACE = "not_content_namespace"
    REDIRECT = "redirect"
    PAGE_DELETED = "page_deleted"


@dataclass(frozen=True)
class Verdict:
    """A failed rule: the outcome to count and a short reason for logs (never article text)."""

    outcome: Outcome
    reason: str


class ArticleFacts(Protocol):
    """What the rules read from a parsed article (scoring.wikitext.ParsedArticle satisfies it)."""

    @property
    def wikitext(self) -> str: ...
    @property
    def templates(self) -> tuple[str, ...]: ...
    @property
    def categories(self) -> tuple[str, ...]: ...


class LinkLike(Protocol):
    """A suggested link (scoring.gelr.GelrLink satisfies it)."""

    @property
    def link_target(self) -> str: ...
    @property
    def score(self) -> float: ...


L = TypeVar("L", bound=LinkLike)


def _nothing_known(_title: str) -> None:
    return None


def _nothing_gone(_title: str) -> bool:
    return False


@dataclass(frozen=True)
class StoreFacts:
    """What MariaDB and Redis know about the page, gathered by the worker before deciding.

    row_state: "none" | "data" | "null" for the revision (growthexperiments_link_recommendations).
    has_submission: growthexperiments_link_submissions has a row with gels_revision = the revision.
    link_edit_revisions: the page's non-NULL gels_edit_revision values (its Add-a-Link edits).
    rejected_target_ids: page ids rejected at least twice on this page (gels_feedback = 'r').
    target_page_id: title -> page id, None when unknown (then a rejection cannot be matched).
    target_gone: True for a title with no page (page table and events, stream/pipeline/page_lookup.py).
    """

    row_state: str = "none"
    has_submission: bool = False
    link_edit_revisions: frozenset[int] = frozenset()
    rejected_target_ids: frozenset[int] = frozenset()
    target_page_id: Callable[[str], int | None] = field(default=_nothing_known)
    target_gone: Callable[[str], bool] = field(default=_nothing_gone)


@dataclass(frozen=True)
class Decision:
    """What to write after scoring.

    outcome: success, or the failure to count.
    links: the links to store (kept in the scorer's order, link_index untouched) - only on success.
    write_null_row: store a NULL gelr_data row for the revision (GrowthExperiments' "known unavailable").
    """

    outcome: Outcome
    links: tuple[LinkLike, ...] | None
    write_null_row: bool
    reason: str = ""
    pruned_gone: int = 0
    pruned_rejected: int = 0


# --- stage 1: candidates ----------------------------------------------------------------------


def not_candidate(event: PageChangeEvent, settings: Settings) -> NotCandidate | None:
    """Why this event can never lead to a recommendation, or None for a candidate."""
    if is_canary(event):
        return NotCandidate.CANARY
    wiki = settings.wiki(event.wiki_id)
    if wiki is None:
        return NotCandidate.WIKI_NOT_ENABLED
    if event.page.namespace_id not in wiki.content_namespaces:
        return NotCandidate.NOT_CONTENT_NAMESPACE
    if event.page_change_kind == "delete":
        return NotCandidate.PAGE_DELETED
    if event.page.is_redirect:
        return NotCandidate.REDIRECT
    return None


# --- stage 2: before scoring ------------------------------------------------------------------


def quiet_period_ends(item: WorkItem, wiki: WikiSettings) -> datetime:
    """When the revision becomes old enough to evaluate: revision time + minimum_time_since_last_edit."""
    return item.dt + timedelta(seconds=wiki.minimum_time_since_last_edit)


def word_count(wikitext: str) -> int:
    """Number of `\\w+` matches (Unicode word characters), GrowthExperiments' measure of length."""
    return sum(1 for _ in _WORD.finditer(wikitext))


def pre_score_check(
    item: WorkItem, article: ArticleFacts | None, wiki: WikiSettings, facts: StoreFacts, now: datetime
) -> Outcome | None:
    """The outcome of the first failing rule before scoring, or None to go on and score."""
    verdict = pre_score_verdict(item, article, wiki, facts, now)
    return verdict.outcome if verdict else None


def pre_score_verdict(
    item: WorkItem, article: ArticleFacts | None, wiki: WikiSettings, facts: StoreFacts, now: datetime
) -> Verdict | None:
    """Like pre_score_check, with the reason. `article` is None when the item has no usable text."""
    return (
        _content_usable(item, article)
        or _word_count_in_bounds(article, wiki)
        or _quiet_period_passed(item, wiki, now)
        or _not_disambiguation(article, wiki)
        or _no_excluded_category(article, wiki)
        or _no_excluded_template(article, wiki)
        or _not_link_recommendation_edit(item, facts)
        or _not_stored(facts)
    )


def _content_usable(item: WorkItem, article: ArticleFacts | None) -> Verdict | None:
    # GrowthExperiments: "page not found" / "content not found" (main slot not WikitextContent,
    # which includes revision-deleted content, invisible to the public audience).
    if item.page_change_kind == "delete":
        return Verdict(Outcome.OTHER, "page not found")
    if item.content_model != WIKITEXT:
        return Verdict(Outcome.OTHER, f"content model {item.content_model or 'unknown'}")
    if not item.is_content_visible:
        return Verdict(Outcome.OTHER, "content hidden")
    if article is None:
        return Verdict(Outcome.OTHER, "content not found")
    return None


def _word_count_in_bounds(article: ArticleFacts | None, wiki: WikiSettings) -> Verdict | None:
    if article is None or (wiki.minimum_word_count == 0 and wiki.maximum_word_count is None):
        return None  # bounds off (the default): skip counting a possibly huge page
    count = word_count(article.wikitext)
    if count < wiki.minimum_word_count:
        return Verdict(Outcome.OTHER, f"word count too small ({count})")
    if wiki.maximum_word_count is not None and count > wiki.maximum_word_count:
        return Verdict(Outcome.OTHER, f"word count too large ({count})")
    return None


def _quiet_period_passed(item: WorkItem, wiki: WikiSettings, now: datetime) -> Verdict | None:
    if now < quiet_period_ends(item, wiki):
        return Verdict(Outcome.MINIMUM_TIME_SINCE_LAST_EDIT_DID_NOT_PASS, "minimum time since last edit did not pass")
    return None


def _not_disambiguation(article: ArticleFacts | None, wiki: WikiSettings) -> Verdict | None:
    assert article is not None  # _content_usable ran first
    dab = _names(wiki.disambiguation_templates or (), "Template:")
    if DISAMBIGUATION_MAGIC_WORD in article.wikitext or any(name in dab for name in article.templates):
        return Verdict(Outcome.DISAMBIGUATION_PAGE, "disambiguation page")
    return None


def _no_excluded_category(article: ArticleFacts | None, wiki: WikiSettings) -> Verdict | None:
    assert article is not None
    excluded = _names(wiki.excluded_categories, "Category:")
    if any(name in excluded for name in article.categories):
        return Verdict(Outcome.EXCLUDED_CATEGORY, "has excluded category")
    return None


def _no_excluded_template(article: ArticleFacts | None, wiki: WikiSettings) -> Verdict | None:
    assert article is not None
    excluded = _names(wiki.excluded_templates, "Template:")
    if any(name in excluded for name in article.templates):
        return Verdict(Outcome.EXCLUDED_TEMPLATE, "has excluded template")
    return None


def _not_link_recommendation_edit(item: WorkItem, facts: StoreFacts) -> Verdict | None:
    if item.rev_id in facts.link_edit_revisions:
        return Verdict(Outcome.LAST_EDIT_LINK_RECOMMENDATION, "last edit is a link recommendation")
    reverted = item.revert.reverted_range if item.revert else None
    if reverted is not None and any(reverted[0] <= rev <= reverted[1] for rev in facts.link_edit_revisions):
        return Verdict(Outcome.LAST_EDIT_LINK_RECOMMENDATION_REVERT, "last edit reverts a link recommendation edit")
    return None


def _not_stored(facts: StoreFacts) -> Verdict | None:
    if facts.row_state == "data":
        return Verdict(Outcome.ALREADY_STORED, "link recommendation already stored")
    if facts.row_state == "null":
        return Verdict(Outcome.KNOWN_UNAVAILABLE, "link recommendation known to not exist")
    return None


def _names(configured: Sequence[str], prefix: str) -> frozenset[str]:
    """Configured template/category names in parse_article's form (normalised, no prefix)."""
    names = set()
    for name in configured:
        if name[: len(prefix)].casefold() == prefix.casefold():
            name = name[len(prefix) :]
        names.add(normalise_title(name))
    return frozenset(names)


# --- stage 3: after scoring -------------------------------------------------------------------


def scored_cause(decision: Decision, *, returned: int, mentions: int) -> str:
    """Why a scored page got no recommendation, finer than GrowthExperiments' outcome (for the
    metrics and the demo's report): ``returned`` links came back from the scorer for ``mentions``
    mentions with candidates. Empty for a success."""
    if decision.outcome is Outcome.ALL_RECOMMENDATIONS_PRUNED:
        if returned == 0:
            return "no_link_above_threshold" if mentions else "no_anchor_in_text"
        if decision.pruned_gone and decision.pruned_rejected:
            return "red_links_and_rejected_targets"
        return "red_links" if decision.pruned_gone else "rejected_targets"
    if decision.outcome is Outcome.GOOD_LINKS_COUNT_TOO_SMALL:
        return "fewer_good_links_than_minimum"
    if decision.outcome is Outcome.OTHER:
        return "submission_exists"
    return ""


def prune_and_decide(links: Sequence[L], wiki: WikiSettings, facts: StoreFacts) -> Decision:
    """GrowthExperiments' decision for scored links (§2.1 steps 3-5, §2.4).

    1. ``links`` are what the service returned: the scorer already applied its threshold
       (minimum_link_score) and its cap (maximum_links_per_task), as mwaddlink's service does, so
       they are not applied again here.
    2. Pruning, order kept, link_index not renumbered: targets gone (red links), then targets
       rejected at least twice on the page.
    3. Nothing left -> all_recommendations_pruned, NULL row if no red link was pruned.
    4. A submission exists for the revision -> other (T291253), no NULL row.
    5. Fewer than minimum_links_per_task links with score >= minimum_link_score (or none) ->
       good_links_count_too_small, NULL row if no red link was pruned.
    6. success with the surviving links.
    """
    kept: list[L] = []
    gone = rejected = 0
    for link in links:
        if facts.target_gone(link.link_target):
            gone += 1
        elif facts.rejected_target_ids and facts.target_page_id(link.link_target) in facts.rejected_target_ids:
            rejected += 1
        else:
            kept.append(link)
    counts = {"pruned_gone": gone, "pruned_rejected": rejected}
    if not kept:
        reason = "all of the links in the recommendation have been pruned"
        return Decision(Outcome.ALL_RECOMMENDATIONS_PRUNED, None, gone == 0, reason, **counts)
    if facts.has_submission:
        return Decision(Outcome.OTHER, None, False, "submission already exists for revision", **counts)
    good = sum(1 for link in kept if link.score >= wiki.minimum_link_score)
    if good == 0 or good < wiki.minimum_links_per_task:
        reason = f"number of good links too small ({good})"
        return Decision(Outcome.GOOD_LINKS_COUNT_TOO_SMALL, None, gone == 0, reason, **counts)
    return Decision(Outcome.SUCCESS, tuple(kept), False, "", **counts)
