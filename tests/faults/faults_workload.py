"""The replayed workload: page/change events of real ltgwiki articles with edits, moves, deletes
and undeletes mixed in, and the final state every page must reach.

Source: stack/samples/ltgwiki-20170901-pages-articles.xml.bz2 (the Latgalian Wikipedia, article
text CC BY-SA; each event keeps the article's page id and title). Each page gets a sequence of
events spread over the run: a ``create``, then edits whose text is one of several real variants
(the article with its links removed, the original, the first part of it), moves to a new title
(a null revision, sometimes leaving a redirect), deletes and undeletes. Revision ids grow with
time across the whole workload, as in MediaWiki; a delete or undelete keeps the page's revision.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from scoring.dumps import DumpPage
from stream.cli.produce import page_change_event, wiki_domain

WIKI = "ltgwiki"
LANGUAGE = "ltg"
EVENTS_PER_PAGE = 5.5
FIRST_REV_ID = 10_000_000
FIRST_REDIRECT_PAGE_ID = 5_000_000


@dataclass(frozen=True)
class PageFinal:
    """Where a page must end up: its latest revision, title and text, or deleted."""

    page_id: int
    rev_id: int
    title: str
    deleted: bool
    last_event: dict[str, Any]  # the last event that carried the page's text (None-free for live pages)


@dataclass(frozen=True)
class Workload:
    events: list[dict[str, Any]]
    final: dict[int, PageFinal]
    gone_titles: frozenset[str]  # every title the stream sees deleted or moved away at some point

    def kinds(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for event in self.events:
            counts[event["page_change_kind"]] = counts.get(event["page_change_kind"], 0) + 1
        return counts


def text_variants(text: str, delinked: str) -> list[str]:
    """Real revisions an article could go through: under-linked, as published, cut short."""
    paragraphs = delinked.split("\n\n")
    truncated = "\n\n".join(paragraphs[: max(1, math.ceil(len(paragraphs) * 0.6))])
    return [delinked, text, truncated]


def build_workload(pages: Sequence[DumpPage], n_events: int, *, delink: Any, seed: int = 5) -> Workload:
    """``n_events`` events over as many of ``pages`` as needed (about EVENTS_PER_PAGE each);
    ``delink(wikitext)`` removes an article's links (tests/integration/pipeline_env.py)."""
    rng = random.Random(seed)
    used = list(pages[: max(1, min(len(pages), round(n_events / EVENTS_PER_PAGE)))])
    counts = [1] * len(used)
    for _ in range(n_events - len(used)):
        counts[rng.randrange(len(used))] += 1
    # Each page's events at sorted random instants of the run; merged, they interleave pages.
    slots = sorted((instant, index, order) for index, count in enumerate(counts)
                   for order, instant in enumerate(sorted(rng.random() for _ in range(count))))
    base = datetime.now(UTC) - timedelta(days=2)
    domain = wiki_domain(WIKI, LANGUAGE)
    states = [_PageState(page, text_variants(page.text, delink(page.text))) for page in used]
    next_rev, next_redirect = FIRST_REV_ID, FIRST_REDIRECT_PAGE_ID
    events: list[dict[str, Any]] = []
    gone: set[str] = set()
    for position, (_, index, order) in enumerate(slots):
        state = states[index]
        when = (base + timedelta(seconds=position)).isoformat().replace("+00:00", "Z")
        kind = "create" if order == 0 else state.next_kind(rng)
        args: dict[str, Any] = dict(wiki_id=WIKI, domain=domain, page_id=state.page.page_id, kind=kind, dt=when)
        if kind in ("create", "edit", "move"):
            state.rev_id, state.rev_dt, next_rev = next_rev, when, next_rev + 1
        if kind == "edit":
            state.text = rng.choice(state.variants)
        if kind == "move":
            args |= dict(prior_title=state.title, prior_namespace_id=0)
            if rng.random() < 0.5:
                args["created_redirect_page_id"], next_redirect = next_redirect, next_redirect + 1
            else:
                gone.add(state.title)
            state.title = f"{state.page.title} ({state.moves + 2})"
            state.moves += 1
        if kind == "delete":
            gone.add(state.title)
        state.deleted = kind == "delete"
        args |= dict(title=state.title, rev_id=state.rev_id, rev_dt=state.rev_dt,
                     text=None if kind == "delete" else state.text)
        event = page_change_event(**args)
        events.append(event)
        if kind != "delete":
            state.last_event = event
    final = {s.page.page_id: PageFinal(s.page.page_id, s.rev_id, s.title, s.deleted, s.last_event) for s in states}
    return Workload(events, final, frozenset(title.replace(" ", "_") for title in gone))


class _PageState:
    def __init__(self, page: DumpPage, variants: list[str]) -> None:
        self.page = page
        self.variants = variants
        self.title = page.title
        self.text = variants[0]
        self.rev_id = 0
        self.rev_dt = ""
        self.deleted = False
        self.moves = 0
        self.last_event: dict[str, Any] = {}

    def next_kind(self, rng: random.Random) -> str:
        if self.deleted:
            return "undelete"
        roll = rng.random()
        return "edit" if roll < 0.7 else "move" if roll < 0.85 else "delete"
