"""Regenerate a wiki's recommendations made by an older model: find them, evaluate them again.

Every stored recommendation names its model (``meta.dataset_checksums.model`` of ``gelr_data``);
``stream.pipeline.outdated`` tells the rows an older model made and walks them. :class:`Rescorer`
takes the walk of one wiki and evaluates each outdated row's revision again, at once, through the
worker's own handler (``rescore=True`` work items: rules, scoring, ``stream.core.page_core.decide``),
so the new row, NULL row or nothing replaces the old one and the tag follows, compare-and-set like
any other write: a page edited meanwhile keeps its newer state. Outcomes are GrowthExperiments'.

What is not regenerated (NULL rows, revisions without text: counted as ``no_text``) is explained
in ``stream.pipeline.outdated``. ``addlink run`` regenerates by itself after a model change
(stream/pipeline/regeneration.py); this is the on-demand job.

Rows are read in batches (``pages_with_data``), so a wiki is never held in memory; writes are
flushed every ``batch_size`` pages (rows first, then tags, then error events), and ``rate`` bounds
how many pages per second are fetched and evaluated, so a large wiki can be regenerated beside the live stream.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from redis.exceptions import RedisError
from tqdm import tqdm

from scoring.bundle import BundleCache, BundleError
from sinks.base import SinkError
from stream.config import Settings
from stream.errors import AddlinkError
from stream.observe.metrics import OutcomeTally
from stream.pipeline.bootstrap import Observability, action_api, build_parts, build_state, build_worker_handler
from stream.pipeline.scorers import ProcessScorer
from stream.transport.kafka_io import make_producer
from stream.pipeline.consume_loop import Handler
from stream.pipeline.outdated import SOURCE, Pacer, Revisions, Rows, Verdict, rescore_item, walk
from stream.core.events import SourceMessage, wiki_domain


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
        pacer = Pacer(self.rate, clock=self.clock, sleep=self.sleep)
        for checked in walk(self.rows, self.revisions, self.wiki, self.domain, self.model, pace=pacer.wait):
            report.rows_checked += 1
            self.progress(1)
            if checked.verdict is Verdict.CURRENT:
                report.current += 1
            elif checked.revision is None:
                report.no_text += 1
            else:
                item = rescore_item(self.wiki, self.domain, checked.page, checked.revision, offset=report.rescored)
                self.handler.handle(SourceMessage(SOURCE, 0, report.rescored, item.key(), item.to_json(), None))
                report.rescored += 1
                pending += 1
                if pending >= self.batch_size:
                    self.flush()
                    pending = 0
            if self.limit is not None and report.rescored + report.no_text >= self.limit:
                break
        self.flush()
        report.outcomes = self.outcomes()
        report.seconds = self.clock() - started
        return report


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
