"""Dump backfill: a dump's article revisions as `mediawiki.page_content_change.v1` events (see
stream/cli/produce.py for what is published), and the event builder tests and benchmarks share."""

from __future__ import annotations

import hashlib
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterator, Sequence
from typing import Any

from tqdm import tqdm

from scoring.dumps import DumpPage, is_article, iter_pages
from sinks.base import TransientSinkError, deliver, json_bytes, utc_iso
from stream.config import Settings
from stream.errors import AddlinkError
from stream.core.events import encode_key, wiki_domain
from stream.transport.kafka_io import ensure_topics, make_producer

SCHEMA = "/mediawiki/page/change/1.2.0"
STREAM = "mediawiki.page_content_change.v1"
BATCH = 200


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
                             is_redirect=page.redirect is not None, content_model=page.content_model)


def latest_pages(dumps: Sequence[Path]) -> Iterator[DumpPage]:
    """Each page of ``dumps`` once, at its highest revision id over all of them, when that revision is
    an article or a main-namespace redirect of a page that was an article in an older revision.

    Within one dump a page appears once (``iter_pages`` picks its highest revision), so a single dump
    is read once; several dumps are read twice: first to find each page's latest revision id (memory:
    one entry per page id), then to yield those revisions, in the order of ``dumps``.
    """
    if len(dumps) == 1:
        yield from (page for page in iter_pages(dumps[0]) if is_article(page))
        return
    latest: dict[int, int] = {}
    was_article: set[int] = set()
    for dump in dumps:
        for page in iter_pages(dump, on_error=_ignore):  # logged once, in the second pass
            if page.rev_id > latest.get(page.page_id, -1):
                latest[page.page_id] = page.rev_id
            if is_article(page):
                was_article.add(page.page_id)
    for dump in dumps:
        for page in iter_pages(dump):
            if latest.get(page.page_id) != page.rev_id:
                continue
            if is_article(page) or (page.namespace == 0 and page.page_id in was_article):
                del latest[page.page_id]  # the same revision in a later dump is not published again
                yield page


def _ignore(_error: object) -> None:
    pass


@dataclass(frozen=True)
class ProduceSummary:
    topic: str
    events: int
    seconds: float


def produce_dump(
    settings: Settings,
    *,
    wiki_id: str,
    dumps: Sequence[Path],
    topic: str | None = None,
    rate: float | None = None,
    limit: int | None = None,
    progress: bool = True,
) -> ProduceSummary:
    """Publish the latest revision of each article of ``dumps`` (see ``latest_pages``) to ``topic``
    (default: the first source topic), at most ``rate`` events per second; returns once the broker
    acknowledged every event (raises otherwise)."""
    missing = [str(dump) for dump in dumps if not dump.is_file()]
    if not dumps or missing:
        raise AddlinkError(f"dump not found: {', '.join(missing) or 'none given'}")
    if rate is not None and rate <= 0:
        raise AddlinkError("--rate must be positive")
    topic = topic or settings.kafka.source_topics[0]
    wiki = settings.wikis.get(wiki_id)
    domain = wiki_domain(wiki_id, wiki.language if wiki else None)
    ensure_topics(settings.kafka, {topic: 1})
    producer = make_producer(settings.kafka, client_id=f"{settings.emitter_id}.produce")
    started = time.monotonic()
    events = 0
    batch: list[tuple[bytes, bytes]] = []
    with tqdm(desc=f"produce {wiki_id}", unit="event", disable=not progress, file=sys.stderr) as bar:
        for page in latest_pages(dumps):
            if limit is not None and events + len(batch) >= limit:
                break
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
    return ProduceSummary(topic=topic, events=events, seconds=time.monotonic() - started)


def _send(producer: Any, topic: str, batch: list[tuple[bytes, bytes]]) -> int:
    try:
        return deliver(producer, topic, batch, timeout=60.0)
    except TransientSinkError as error:
        raise AddlinkError(f"kafka did not acknowledge the events: {error}") from error
