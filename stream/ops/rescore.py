"""Regenerate a wiki's recommendations made by an older model: find them, evaluate them again.

Every stored recommendation names its model (``meta.dataset_checksums.model`` of ``gelr_data``).
:func:`outdated` compares it with the wiki's current bundle; :class:`Rescorer` walks the wiki's
data rows in page order and, for each outdated one, evaluates the revision again through the
worker's own handler (``rescore=True`` work items: rules, scoring, ``stream.core.page_core.decide``),
so the new row, NULL row or nothing replaces the old one and the tag follows, compare-and-set like
any other write: a page edited meanwhile keeps its newer state. Outcomes are GrowthExperiments'.

What is not regenerated, and why:
- revisions whose text the content source cannot give (``pipeline.fetch_missing_content`` off, or
  the revision deleted/hidden since): counted as ``no_text``, the old row stays;
- NULL rows: they name no model; a new model may find links there only on the page's next edit.

Rows are read in batches (``pages_with_data``), so a wiki is never held in memory; writes are
flushed every ``batch_size`` pages (rows first, then tags, then error events), and ``rate`` bounds
how many pages per second are evaluated, so a large wiki can be regenerated beside the live stream.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from redis.exceptions import RedisError
from tqdm import tqdm

from scoring.bundle import BundleCache, BundleError
from sinks.base import SinkError
from sinks.mariadb import StoredPage
from stream.config import Settings
from stream.errors import AddlinkError
from stream.observe.metrics import OutcomeTally
from stream.ops.backfill import wiki_domain
from stream.pipeline.bootstrap import Observability, action_api, build_parts, build_state, build_worker_handler
from stream.pipeline.scorers import ProcessScorer
from stream.transport.kafka_io import make_producer
from stream.pipeline.consume_loop import Handler
from stream.pipeline.content import Revision
from stream.core.events import WIKITEXT, SourceMessage, WorkItem

SOURCE = "addlink.rescore"
"""``source_topic`` of rescore work items (they never travel Kafka)."""


def row_model(data: bytes) -> str | None:
    """The model checksum a stored ``gelr_data`` names, None when it names none (or is not JSON)."""
    try:
        meta = json.loads(data).get("meta", {})
        model = meta.get("dataset_checksums", {}).get("model")
    except (ValueError, AttributeError):
        return None
    return model if isinstance(model, str) else None


def outdated(data: bytes, model: str) -> bool:
    """True when the row was made by another model than ``model`` (or names none)."""
    return row_model(data) != model


class Rows(Protocol):
    def pages_with_data(self, wiki_id: str, *, batch_size: int = 500, after_page_id: int = 0
                        ) -> Iterator[StoredPage]: ...

    def stored_data(self, wiki_id: str, rev_id: int) -> bytes | None: ...


class Revisions(Protocol):
    def revision(self, *, wiki_id: str, domain: str | None, rev_id: int) -> Revision | None: ...


@dataclass
class RescoreReport:
    wiki: str
    model: str
    rows_checked: int = 0
    current: int = 0
    no_text: int = 0
    rescored: int = 0
    seconds: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {"wiki": self.wiki, "model": self.model, "rows_checked": self.rows_checked, "current": self.current,
                "rescored": self.rescored, "no_text": self.no_text, "outcomes": dict(sorted(self.outcomes.items())),
                "seconds": round(self.seconds, 3)}

    def summary(self) -> str:
        outcomes = ", ".join(f"{name} {count}" for name, count in sorted(self.outcomes.items())) or "none"
        return (f"{self.wiki}: {self.rows_checked} rows checked in {self.seconds:.1f} s against model "
                f"{self.model[:12]}: {self.current} current, {self.rescored} rescored, {self.no_text} without text\n"
                f"  outcomes: {outcomes}")


@dataclass
class Rescorer:
    """One wiki, one run. ``handler`` is a worker handler without quiet period (the row proves the
    revision passed it); ``flush`` makes its writes durable; ``outcomes`` reads the outcome counts
    the handler reported so far (GrowthExperiments' names)."""

    wiki: str
    domain: str
    model: str
    rows: Rows
    revisions: Revisions
    handler: Handler
    flush: Callable[[], None]
    outcomes: Callable[[], dict[str, int]]
    rate: float | None = None
    batch_size: int = 50
    limit: int | None = None
    progress: Callable[[int], None] = lambda _n: None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def run(self) -> RescoreReport:
        report = RescoreReport(self.wiki, self.model)
        started = self.clock()
        pending = 0
        for stored in self.rows.pages_with_data(self.wiki):
            if self.limit is not None and report.rescored + report.no_text >= self.limit:
                break
            report.rows_checked += 1
            self.progress(1)
            data = self.rows.stored_data(self.wiki, stored.rev_id)
            if data is None or not outdated(data, self.model):
                report.current += 1
                continue
            revision = self.revisions.revision(wiki_id=self.wiki, domain=self.domain, rev_id=stored.rev_id)
            if revision is None:
                report.no_text += 1
                continue
            self._pace(started, report.rescored)
            self.handler.handle(self._message(stored, revision, report.rescored))
            report.rescored += 1
            pending += 1
            if pending >= self.batch_size:
                self.flush()
                pending = 0
        self.flush()
        report.outcomes = self.outcomes()
        report.seconds = self.clock() - started
        return report

    def _pace(self, started: float, done: int) -> None:
        """At most ``rate`` evaluations per second on average (a batch command may sleep)."""
        if self.rate:
            self.sleep(max(0.0, started + done / self.rate - self.clock()))

    def _message(self, stored: StoredPage, revision: Revision, offset: int) -> SourceMessage:
        now = datetime.now(UTC)
        item = WorkItem(wiki_id=self.wiki, page_id=stored.page_id, page_title=revision.title,
                        namespace_id=revision.namespace_id, rev_id=stored.rev_id, dt=revision.timestamp or now,
                        event_dt=now, domain=self.domain, page_change_kind="edit", content_model=WIKITEXT,
                        source_topic=SOURCE, source_partition=0, source_offset=offset, wikitext=revision.wikitext,
                        rescore=True)
        return SourceMessage(SOURCE, 0, offset, item.key(), item.to_json(), None)


def rescore(settings: Settings, wiki: str, *, rate: float | None = None, limit: int | None = None,
            batch_size: int = 50, revisions: Revisions | None = None, progress: bool = True) -> RescoreReport:
    """Rescore ``wiki``'s rows made by another model than its current bundle's (see stream.ops.rescore).

    ``revisions``: where the text comes from (default: the configured MediaWiki Action API)."""
    wiki_settings = settings.wiki(wiki)
    if wiki_settings is None:
        raise AddlinkError(f"wiki {wiki!r} is not configured and enabled (wikis.{wiki})")
    if rate is not None and rate <= 0:
        raise AddlinkError("--rate must be positive")
    if revisions is None:
        if not settings.pipeline.fetch_missing_content:
            raise AddlinkError("rescore needs the revisions' text: enable pipeline.fetch_missing_content "
                               "(the MediaWiki Action API)")
        revisions = action_api(settings)
    try:
        model = BundleCache(settings.models_dir).get(wiki).dataset_checksums["model"]
    except BundleError as error:
        raise AddlinkError(f"wiki {wiki}: {error}") from error
    tally = OutcomeTally()
    obs = Observability(extra_sensors=[tally])
    producer = make_producer(settings.kafka, client_id=f"{settings.emitter_id}.rescore")
    parts = build_parts(settings, producer, obs.sensor, "rescore")
    scorer = ProcessScorer(settings.models_dir, memory_limit_mb=settings.scoring.memory_limit_mb)
    handler = build_worker_handler(settings, parts, obs, state=build_state(settings), scorer=scorer,
                                   quiet_period_override_s=0, bundles=BundleCache(settings.models_dir))

    def flush() -> None:  # the checkpoint's order: rows, tags, then error events
        for sink in (parts.store, parts.tags, parts.errors):
            sink.flush()

    try:
        with tqdm(desc=f"rescore {wiki}", unit="row", disable=not progress, file=sys.stderr) as bar:
            return Rescorer(wiki, wiki_domain(wiki, wiki_settings.language), model, parts.store, revisions, handler,
                            flush, lambda: tally.summary().get("outcomes", {}), rate=rate, batch_size=batch_size,
                            limit=limit, progress=bar.update).run()
    except SinkError as error:
        raise AddlinkError(f"{error} (every write is idempotent and compare-and-set: run again)") from error
    except RedisError as error:
        raise AddlinkError(f"redis at {settings.redis.url}: {error}") from error
    finally:
        scorer.close()
        for sink in (parts.store, parts.tags, parts.errors):
            sink.close()
        producer.flush(5.0)  # type: ignore[attr-defined]
