"""`addlink produce`: publish a dump's article revisions as `mediawiki.page_content_change.v1` events.

Each article (namespace 0, not a redirect, wikitext) becomes one `page/change` 1.x event of kind
`edit` whose `dt` and `revision.rev_dt` are the revision's timestamp, with the wikitext inline at
`revision.content_slots.main.content_body` - what Wikimedia's enrichment job emits - keyed by
`{"wiki_id", "page_id"}` like the real stream. Used for backfills, the README demo and benchmarks:
publish, then `addlink replay` (or a running `addlink run`) processes the events.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from scoring.dumps import DumpPage, is_article, iter_pages
from sinks.base import TransientSinkError, deliver, json_bytes, utc_iso
from stream.config import Settings, load_settings
from stream.errors import AddlinkError
from stream.core.events import encode_key
from stream.transport.kafka_io import ensure_topics, make_producer

SCHEMA = "/mediawiki/page/change/1.2.0"
STREAM = "mediawiki.page_content_change.v1"
BATCH = 200


def wiki_domain(wiki_id: str, language: str | None = None) -> str:
    """`elwiki` -> `el.wikipedia.org` (the configured language wins over the id's prefix)."""
    code = language or wiki_id.removesuffix("wiki").replace("_", "-")
    return f"{code}.wikipedia.org"


CHANGELOG_KIND = {"create": "insert", "undelete": "insert", "edit": "update", "move": "update",
                  "visibility_change": "update", "delete": "delete"}


def page_change_event(
    *,
    wiki_id: str,
    domain: str,
    page_id: int,
    title: str,
    rev_id: int,
    rev_dt: str,
    kind: str = "edit",
    text: str | None = None,
    dt: str | None = None,
    namespace_id: int = 0,
    is_redirect: bool = False,
    content_visible: bool = True,
    content_model: str = "wikitext",
    prior_title: str | None = None,
    prior_namespace_id: int | None = None,
    created_redirect_page_id: int | None = None,
    stream: str = STREAM,
) -> dict[str, Any]:
    """A `page/change` 1.x event of any kind, shaped as EventBus and the enrichment job write it.

    ``text`` becomes ``content_body`` (None: no body, as on page_change.v1 or for hidden content);
    ``dt`` defaults to ``rev_dt`` (right for create/edit/move); a move names its old title and
    namespace in ``prior_state.page`` and may leave a redirect (``created_redirect_page_id``).
    Titles may be given with spaces; events carry DB keys (underscores).
    """
    db_title = title.replace(" ", "_")
    main: dict[str, Any] = {"slot_role": "main", "content_model": content_model, "content_format": "text/x-wiki",
                            "origin_rev_id": rev_id}
    if text is not None:
        body = text.encode("utf-8")
        main |= {"content_size": len(body), "content_sha1": hashlib.sha1(body).hexdigest(), "content_body": text}
    revision: dict[str, Any] = {
        "rev_id": rev_id,
        "rev_dt": rev_dt,
        "is_minor_edit": False,
        "is_content_visible": content_visible,
        "is_editor_visible": True,
        "is_comment_visible": True,
    }
    if kind != "delete" and content_visible:
        revision["content_slots"] = {"main": main}
    event: dict[str, Any] = {
        "$schema": SCHEMA,
        "meta": {
            "stream": stream,
            "domain": domain,
            "uri": f"https://{domain}/wiki/{db_title}",
            "id": str(uuid.uuid4()),
            "request_id": str(uuid.uuid4()),
            "dt": utc_iso(),
        },
        "dt": dt or rev_dt,
        "wiki_id": wiki_id,
        "changelog_kind": CHANGELOG_KIND[kind],
        "page_change_kind": kind,
        "page": {"page_id": page_id, "page_title": db_title, "namespace_id": namespace_id, "is_redirect": is_redirect},
        "revision": revision,
    }
    prior_page = {key: value for key, value in (("page_title", prior_title and prior_title.replace(" ", "_")),
                                                ("namespace_id", prior_namespace_id)) if value is not None}
    if prior_page:
        event["prior_state"] = {"page": prior_page}
    if kind == "visibility_change":
        event.setdefault("prior_state", {})["revision"] = {"is_content_visible": not content_visible}
    if created_redirect_page_id is not None and prior_title is not None:
        event["created_redirect_page"] = {"page_id": created_redirect_page_id, "page_title": prior_title.replace(" ", "_"),
                                          "namespace_id": prior_namespace_id or 0, "is_redirect": True}
    return event


def dump_page_event(page: DumpPage, *, wiki_id: str, domain: str) -> dict[str, Any]:
    """The page_content_change event of a dump page's revision: an `edit` at the revision's time."""
    return page_change_event(wiki_id=wiki_id, domain=domain, page_id=page.page_id, title=page.title,
                             rev_id=page.rev_id, rev_dt=page.timestamp, text=page.text, namespace_id=page.namespace,
                             content_model=page.content_model)


@dataclass(frozen=True)
class ProduceSummary:
    topic: str
    events: int
    skipped_pages: int
    seconds: float


def produce_dump(
    settings: Settings,
    *,
    wiki_id: str,
    dump: Path,
    topic: str | None = None,
    rate: float | None = None,
    limit: int | None = None,
    progress: bool = True,
) -> ProduceSummary:
    """Publish the dump's articles to ``topic`` (default: the first source topic), at most ``rate``
    events per second; returns once the broker acknowledged every event (raises otherwise)."""
    if not dump.is_file():
        raise AddlinkError(f"dump not found: {dump}")
    if rate is not None and rate <= 0:
        raise AddlinkError("--rate must be positive")
    topic = topic or settings.kafka.source_topics[0]
    wiki = settings.wikis.get(wiki_id)
    domain = wiki_domain(wiki_id, wiki.language if wiki else None)
    ensure_topics(settings.kafka, {topic: 1})
    producer = make_producer(settings.kafka, client_id=f"{settings.emitter_id}.produce")
    started = time.monotonic()
    events = skipped = 0
    batch: list[tuple[bytes, bytes]] = []
    with tqdm(desc=f"produce {wiki_id}", unit="event", disable=not progress, file=sys.stderr) as bar:
        for page in iter_pages(dump):
            if limit is not None and events + len(batch) >= limit:
                break
            if not is_article(page):
                skipped += 1
                continue
            if rate is not None:
                wait = started + (events + len(batch)) / rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)  # a producer command, not a consume loop: pacing is its job
            event = dump_page_event(page, wiki_id=wiki_id, domain=domain)
            batch.append((encode_key(wiki_id, page.page_id), json_bytes(event)))
            if len(batch) >= (BATCH if rate is None else max(1, min(BATCH, int(rate)))):
                events += _send(producer, topic, batch)
                bar.update(len(batch))
                batch = []
        if batch:
            events += _send(producer, topic, batch)
            bar.update(len(batch))
    return ProduceSummary(topic=topic, events=events, skipped_pages=skipped, seconds=time.monotonic() - started)


def _send(producer: Any, topic: str, batch: list[tuple[bytes, bytes]]) -> int:
    try:
        return deliver(producer, topic, batch, timeout=60.0)
    except TransientSinkError as error:
        raise AddlinkError(f"kafka did not acknowledge the events: {error}") from error


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("produce", help="publish a dump's articles as page_content_change events")
    parser.add_argument("--config", required=True, type=Path, help="configuration file (YAML or TOML)")
    parser.add_argument("--wiki", required=True, help="wiki id, e.g. elwiki")
    parser.add_argument("--dump", required=True, type=Path, help="MediaWiki XML dump (bz2, xz or plain)")
    parser.add_argument("--rate", type=float, help="events per second (default: as fast as possible)")
    parser.add_argument("--topic", help="topic (default: the first of kafka.source_topics)")
    parser.add_argument("--limit", type=int, help="publish at most this many articles")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    summary = produce_dump(settings, wiki_id=args.wiki, dump=args.dump, topic=args.topic, rate=args.rate,
                           limit=args.limit, progress=not args.no_progress)
    print(f"produced {summary.events} events to {summary.topic} in {summary.seconds:.1f}s "
          f"({summary.skipped_pages} non-article pages skipped)")
    return 0
