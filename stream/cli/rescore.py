"""`addlink rescore`: evaluate again one wiki's recommendations made by an older model.

What is regenerated and what is not is in ``stream.ops.rescore``. The revisions' text comes from the
MediaWiki Action API (``pipeline.fetch_missing_content``, the same client ingest uses for
``page_change.v1`` events): Kafka only keeps a week of article text and MariaDB none.

Output: a summary with a progress bar on stderr, or one JSON object with ``--json``:
``{"wiki", "model", "rows_checked", "current", "rescored", "no_text", "outcomes": {name: n}, "seconds"}``
(outcomes named like GrowthExperiments'). Exit status: 0 done; 2 usage or configuration error, or
a store that cannot be read (every write is idempotent and compare-and-set: simply run again).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from redis.exceptions import RedisError
from tqdm import tqdm

from scoring.bundle import BundleCache, BundleError
from sinks.base import SinkError
from stream.pipeline.bootstrap import Observability, action_api, build_parts, build_state, build_worker_handler
from stream.cli.produce import wiki_domain
from stream.config import Settings, load_settings
from stream.errors import AddlinkError
from stream.transport.kafka_io import make_producer
from stream.observe.logs import configure_json_logging
from stream.observe.metrics import OutcomeTally
from stream.ops.rescore import RescoreReport, Rescorer, Revisions
from stream.pipeline.scorers import ProcessScorer


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
                                   quiet_period_override_s=0)

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


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("rescore", help="evaluate again the recommendations an older model made")
    parser.add_argument("--config", required=True, type=Path, help="configuration file (YAML or TOML)")
    parser.add_argument("--wiki", required=True, help="an enabled wiki id, e.g. elwiki")
    parser.add_argument("--rate", type=float, help="at most this many pages evaluated per second (default: no limit)")
    parser.add_argument("--limit", type=int, help="stop after this many outdated rows")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--log-level", default="WARNING", help="log level (default: WARNING)")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    configure_json_logging(args.log_level)
    report = rescore(load_settings(args.config), args.wiki, rate=args.rate, limit=args.limit,
                     progress=not args.no_progress)
    print(json.dumps(report.as_json(), ensure_ascii=False) if args.json else report.summary())
    return 0
