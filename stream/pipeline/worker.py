"""Worker: work items in, once due; GrowthExperiments' rules, scoring, and the page brought to state.

For each work item (in per-page order, see stream/pipeline/ingest.py):

1. a removal item (delete, content hidden, moved out of the content namespaces): delete the page's
   rows and clear its tag — the idempotent repeat of what ingest did at once;
2. not due yet (``dt + minimum_time_since_last_edit`` in the future): :class:`NotYet`, the loop
   pauses the partition until then (no sleeping, no text kept in memory);
3. superseded (``stream.core.page_core.superseded``) — Redis knows a newer revision or a tombstone,
   MariaDB holds a row of a newer revision, or this worker itself already handled a newer revision
   of the page (its writes may still be buffered, invisible to MariaDB reads): skip (the newer item
   decides the page);
4. otherwise evaluate: parse, the pre-scoring rules (``stream.core.eligibility``), the model
   (``scoring.recommend``, with the articles created since the bundle as targets too:
   stream/pipeline/new_titles.py), pruning and the decision; parsing and scoring share the page's budget
   (``scoring.deadline_seconds``, a hard bound with ``stream.pipeline.scorers.ProcessScorer``: past it the item
   fails with ScoringTimeout and goes to the error topic);
5. bring the page to the state of this revision: rows of older revisions deleted, the row written
   (data or NULL, when the decision says so), then the tag set exactly when the revision's row has
   data and cleared otherwise (``stream.core.page_core.decide``). Buffered; the checkpoint flushes
   MariaDB before Elasticsearch, and both writes are compare-and-set on the page's fence, so an
   invalidation another process committed after step 3 still wins over them.

Step 5 runs for every evaluated item, whatever the outcome, so a redelivered item heals a crash
between the row commit and the tag write, and a stale row that slipped in is removed by the page's
next item. The outcome is counted under GrowthExperiments' name.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol

from scoring.bundle import Bundle, BundleCache
from scoring.gelr import Gelr
from scoring.recommend import MAX_WIKITEXT_CHARS
from sinks.base import TagAction, TagChange, TagSink
from stream.config import Settings, WikiSettings
from stream.pipeline.consume_loop import Done, ErrorReporter, NotYet
from stream.core.eligibility import (ArticleFacts, Outcome, StoreFacts, prune_and_decide, pre_score_verdict,
                                    quiet_period_ends, scored_cause)
from stream.core.events import InvalidEvent, SourceMessage, WorkItem, parse_work_item
from stream.pipeline.ingest import RowStore
from stream.observe.metrics import Sensor, StageTimer
from stream.pipeline.new_titles import NewTitlesReader
from stream.pipeline.page_lookup import PageLookup
from stream.core.page_core import (ChangeKind, Evaluation, PageChange, PageFacts, PageRecord, PageWrites, apply, decide,
                                   superseded)
from stream.core.quiet import Clock
from stream.pipeline.scorers import Budget, Scorer
from stream.pipeline.state import PageState

log = logging.getLogger(__name__)


class WorkerRows(RowStore, Protocol):
    """What the worker needs of ``sinks.mariadb.RecommendationStore`` (reads are committed rows)."""

    def prefetch(self, batch: Mapping[str, tuple[Sequence[int], Sequence[int]]]) -> None:
        """Read the facts of each wiki's (page ids, revision ids) at once for the reads below."""

    def row_state(self, wiki_id: str, rev_id: int) -> str: ...

    def has_submission(self, wiki_id: str, rev_id: int) -> bool: ...

    def rejected_targets(self, wiki_id: str, page_id: int) -> frozenset[int]: ...

    def link_edit_revisions(self, wiki_id: str, page_id: int) -> frozenset[int]: ...


class HandledRevisions:
    """The highest revision this worker brought each of its ``capacity`` most recent pages to.

    Why: the superseded check reads Redis and *committed* MariaDB rows. After Redis lost its state,
    an older revision can reach the work topic behind a newer one (two data centres' topics, or a
    duplicate); when both are handled between two checkpoints the newer row is still only buffered,
    so neither store shows it, and the older revision would be stored next to it. A revision seen
    here really existed, so an item older than it is stale whatever was committed; memory is
    bounded (ids only, no text) and losing it on restart only falls back to the stores.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._latest: OrderedDict[tuple[str, int], int] = OrderedDict()

    def latest(self, item: WorkItem) -> int | None:
        return self._latest.get((item.wiki_id, item.page_id))

    def note(self, item: WorkItem) -> None:
        key = (item.wiki_id, item.page_id)
        self._latest[key] = max(item.rev_id, self._latest.get(key, item.rev_id))
        self._latest.move_to_end(key)
        if len(self._latest) > self._capacity:
            self._latest.popitem(last=False)


class WorkerHandler:
    """Handles one work-topic message; clients passed in (see stream/pipeline/bootstrap.py)."""

    def __init__(
        self,
        *,
        settings: Settings,
        state: PageState,
        store: WorkerRows,
        tags: TagSink,
        errors: ErrorReporter,
        scorer: Scorer,
        clock: Clock,
        sensor: Sensor,
        quiet_period_override_s: int | None = None,
        bundles: BundleCache | None = None,
    ) -> None:
        """``bundles``: the wikis' bundles, for their disambiguation templates and page tables; without
        them only configured templates and the stream's events are known."""
        self._settings = settings
        self._bundles = bundles
        self._state = state
        self._store = store
        self._tags = tags
        self._errors = errors
        self._scorer = scorer
        self._clock = clock
        self._sensor = sensor
        self._timer = StageTimer(sensor, "worker", clock)
        self._quiet_override = quiet_period_override_s
        self._handled = HandledRevisions()
        self._new_titles = NewTitlesReader(state, settings.scoring.new_titles_refresh_s, clock)
        self._batch_items: dict[tuple[str, int, int], WorkItem] = {}
        self._batch_pages: dict[tuple[str, int], PageRecord | None] = {}

    def prepare(self, messages: Sequence[SourceMessage]) -> None:
        """Decode a poll batch and read its pages' facts at once: one Redis pipeline per wiki and
        one MariaDB query per wiki instead of six round trips per item; an empty batch forgets them.

        A partition's messages after its first item not due yet are left out: the loop holds the
        partition there and reads them again later (with a day's quiet period that is most of a
        batch). The loop forgets the facts when the batch ends or a service fails, so a retry after
        an outage reads afresh."""
        self._batch_items, self._batch_pages = {}, {}
        items = {}
        waiting: set[tuple[str, int]] = set()  # partitions whose next item is not due yet
        wanted: dict[str, tuple[set[int], set[int]]] = {}  # per enabled wiki: page ids, revision ids
        with self._timer.stage("decode"):
            for message in messages:
                tp = (message.topic, message.partition)
                if tp in waiting:
                    continue
                try:
                    item = parse_work_item(message.value)
                except InvalidEvent:
                    continue  # reported when handled
                items[(message.topic, message.partition, message.offset)] = item
                wiki = self._wiki(item.wiki_id)
                if wiki is None:
                    continue
                pages, revisions = wanted.setdefault(item.wiki_id, (set(), set()))
                pages.add(item.page_id)
                revisions.add(item.rev_id)
                if not self._is_removal(item, wiki) and self._clock.wall() < self._due(item, wiki, message):
                    waiting.add(tp)
        known: dict[tuple[str, int], PageRecord | None] = {}
        with self._timer.stage("redis"):
            for wiki_id, (pages, _) in wanted.items():
                known.update(((wiki_id, page_id), record) for page_id, record in self._state.pages(
                    wiki_id, sorted(pages)).items())
        with self._timer.stage("mariadb_read"):
            self._store.prefetch({wiki_id: (sorted(pages), sorted(revisions))
                                  for wiki_id, (pages, revisions) in wanted.items()})
        self._batch_items, self._batch_pages = items, known

    def handle(self, message: SourceMessage) -> Done | NotYet:
        try:
            item = self._batch_items.pop((message.topic, message.partition, message.offset), None)
            if item is None:
                with self._timer.stage("decode"):
                    item = parse_work_item(message.value)
        except InvalidEvent as error:
            self._errors.report(message.value, error, key=message.key, topic=message.topic,
                                partition=message.partition, offset=message.offset)
            self._sensor.on_error("worker", type(error).__name__)
            return Done()
        wiki = self._wiki(item.wiki_id)
        if wiki is None:
            self._sensor.on_item_skipped("other", "wiki_not_enabled")
            return Done()
        if self._is_removal(item, wiki):
            self._remove(item)
            return Done()
        due = self._due(item, wiki, message)
        if self._clock.wall() < due:
            return NotYet(due)
        self._evaluate(item, wiki)
        return Done(max(due, (message.timestamp_ms or 0) / 1000))

    @staticmethod
    def _due(item: WorkItem, wiki: WikiSettings, message: SourceMessage) -> float:
        """When the item's quiet period ends (wall clock)."""
        due = quiet_period_ends(item, wiki).timestamp()
        received = (message.timestamp_ms or 0) / 1000
        if received:
            # A revision time in the future (clock skew, a bad event) must not hold the partition, and
            # every page behind it, until then: the quiet period starts no later than ingest saw it.
            due = min(due, received + wiki.minimum_time_since_last_edit)
        return due

    def _wiki(self, wiki_id: str) -> WikiSettings | None:
        wiki = self._settings.wiki(wiki_id)
        if wiki is not None and self._quiet_override is not None:
            wiki = wiki.model_copy(update={"minimum_time_since_last_edit": self._quiet_override})
        return wiki

    @staticmethod
    def _is_removal(item: WorkItem, wiki: WikiSettings) -> bool:
        return (
            item.page_change_kind == "delete"
            or (item.page_change_kind == "visibility_change" and not item.is_content_visible)
            or item.namespace_id not in wiki.content_namespaces
        )

    def _remove(self, item: WorkItem) -> None:
        writes = decide(self._page_facts(item), self._change(item, ChangeKind.REMOVAL))
        if writes is None:
            self._sensor.on_item_skipped(item.wiki_id, "superseded")  # undeleted and edited since
            return
        self._apply(item, writes)
        self._sensor.on_item_skipped(item.wiki_id, "removed")

    def _evaluate(self, item: WorkItem, wiki: WikiSettings) -> None:
        wiki_id = item.wiki_id
        page = self._page_facts(item)
        if superseded(page, item.rev_id, removal=False):
            self._sensor.on_item_skipped(wiki_id, "superseded")
            if item.rescore:
                self._sensor.on_regenerated(wiki_id, "superseded")
            return
        if item.is_redirect:
            self._apply(item, decide(page, self._change(item, ChangeKind.REDIRECT)))
            self._sensor.on_item_skipped(wiki_id, "redirect")
            return
        article = None
        budget = Budget.start(self._settings.scoring.deadline_seconds)
        if item.wikitext is not None and len(item.wikitext) <= MAX_WIKITEXT_CHARS:
            with self._timer.stage("scoring"):
                article = self._scorer.parse(wiki_id, item.wikitext, budget)
        elif item.wikitext is not None:  # larger than MediaWiki allows: not parsed, counted as "other"
            log.warning("wikitext too large to evaluate", extra={"wiki": wiki_id, "page_id": item.page_id,
                                                                 "rev_id": item.rev_id, "chars": len(item.wikitext)})
        facts = self._facts(item)
        bundle = self._bundles.get(wiki_id) if self._bundles is not None else None
        if bundle is not None and wiki.disambiguation_templates is None:
            wiki = wiki.model_copy(update={"disambiguation_templates": bundle.disambiguation_templates})
        if item.rescore:  # the stored row is an older model's: it must not stop a new evaluation
            facts = dataclasses.replace(facts, row_state="none")
        now = datetime.fromtimestamp(self._clock.wall(), UTC)
        with self._timer.stage("validate"):
            verdict = pre_score_verdict(item, article, wiki, facts, now)
        if verdict is not None:
            evaluation = Evaluation(str(verdict.outcome))
        else:
            assert article is not None  # pre_score_verdict returns "other" for an item without text
            evaluation = self._score(item, wiki, article, budget, facts, bundle)
        writes = decide(dataclasses.replace(page, own_row=facts.row_state), self._change(item, ChangeKind.EVALUATED),
                        evaluation)
        self._apply(item, writes)
        self._sensor.on_outcome(wiki_id, evaluation.outcome, evaluation.cause)
        if item.rescore:
            self._sensor.on_regenerated(wiki_id, evaluation.outcome)

    def _score(self, item: WorkItem, wiki: WikiSettings, article: ArticleFacts, budget: Budget,
               facts: StoreFacts, bundle: Bundle | None) -> Evaluation:
        wiki_id = item.wiki_id
        new_titles = None
        if bundle is not None:
            with self._timer.stage("redis"):
                new_titles = self._new_titles.get(wiki_id)
        started = self._clock.monotonic()
        with self._timer.stage("scoring"):
            recommendation = self._scorer.score(item, wiki, article, budget, new_titles)
        self._sensor.on_scored(wiki_id, self._clock.monotonic() - started)
        if not recommendation.complete:
            log.warning("scoring deadline passed; recommending from the part scored", extra={
                "wiki": wiki_id, "page_id": item.page_id, "rev_id": item.rev_id})
        with self._timer.stage("redis"):
            events = self._state.titles(wiki_id, [link.link_target for link in recommendation.links])
        pages = PageLookup(events, bundle.pages if bundle else None, bool(bundle and bundle.pages_complete))
        facts = dataclasses.replace(facts, target_page_id=pages.page_id, target_gone=pages.gone)
        decision = prune_and_decide(recommendation.links, wiki, facts)
        if decision.outcome is Outcome.SUCCESS:
            gelr = Gelr(links=tuple(decision.links or ()), meta=recommendation.gelr.meta)
            return Evaluation(str(decision.outcome), data=gelr.to_json().encode("utf-8"))
        cause = scored_cause(decision, returned=len(recommendation.links), mentions=recommendation.mentions)
        return Evaluation(str(decision.outcome), null_row=decision.write_null_row, cause=cause)

    def _page_facts(self, item: WorkItem) -> PageFacts:
        """Freshness: Redis' record, the newest stored row (with this worker's buffered writes) and
        the newest revision this worker handled (see HandledRevisions)."""
        key = (item.wiki_id, item.page_id)
        if key in self._batch_pages:
            known = self._batch_pages[key]
        else:
            with self._timer.stage("redis"):
                known = self._state.page(item.wiki_id, item.page_id)
        with self._timer.stage("mariadb_read"):
            stored = self._store.latest_revision(item.wiki_id, item.page_id)
        return PageFacts(known=known, stored=stored, handled=self._handled.latest(item))

    @staticmethod
    def _change(item: WorkItem, kind: ChangeKind) -> PageChange:
        return PageChange(item.wiki_id, item.page_id, item.rev_id, kind,
                          revive=item.page_change_kind in ("undelete", "visibility_change"), rescore=item.rescore)

    def _facts(self, item: WorkItem) -> StoreFacts:
        wiki_id = item.wiki_id
        with self._timer.stage("mariadb_read"):
            return StoreFacts(
                row_state=str(self._store.row_state(wiki_id, item.rev_id)),
                has_submission=self._store.has_submission(wiki_id, item.rev_id),
                link_edit_revisions=self._store.link_edit_revisions(wiki_id, item.page_id),
                rejected_target_ids=self._store.rejected_targets(wiki_id, item.page_id),
            )

    def _apply(self, item: WorkItem, writes: PageWrites | None) -> None:
        """Buffer the decided writes (``decide`` returns None only for a superseded change, which
        every caller has ruled out with the same facts)."""
        assert writes is not None
        self._handled.note(item)
        page = TagChange(item.wiki_id, item.page_id, TagAction.CLEAR, page_title=item.page_title,
                         namespace_id=item.namespace_id or 0, dt=item.event_dt, domain=item.domain,
                         rev_id=item.rev_id)
        apply(writes, self._store, self._tags, page)
