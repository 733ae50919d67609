"""Where ingest gets wikitext an event does not carry (``mediawiki.page_change.v1``).

``page_content_change.v1`` events carry the text; ``page_change.v1`` events do not, so ingest asks a
:class:`ContentSource`. The production one is :class:`MediaWikiActionApi` (the Action API's
``prop=revisions`` with ``rvslots=main``, as Wikimedia's enrichment job does); :class:`NoContent`
is the default and the test double's base. A revision without fetchable content (deleted, hidden,
not found) is ``None``, a normal answer; only an unreachable or failing API raises
:class:`ContentUnavailable`, which the pipeline treats as an outage (back off, retry, lose nothing).
"""

from __future__ import annotations

from typing import Protocol

import requests

from stream.errors import AddlinkError


class ContentUnavailable(Exception):
    """The content source cannot answer right now (network, timeout, HTTP 5xx/429)."""


class ContentSource(Protocol):
    """Fetches the main-slot wikitext of one revision."""

    def fetch(self, *, wiki_id: str, domain: str | None, rev_id: int) -> str | None:
        """The wikitext, or None if the revision has no public wikitext; ContentUnavailable on outage."""


class NoContent:
    """Fetches nothing: events without text are evaluated as "content not found"."""

    def fetch(self, *, wiki_id: str, domain: str | None, rev_id: int) -> str | None:
        return None


class MediaWikiActionApi:
    """Content from ``https://<meta.domain>/w/api.php`` (``url_template`` may route via a proxy).

    One GET per revision: ``action=query&prop=revisions&revids=R&rvprop=content&rvslots=main``
    (formatversion 2). Missing, deleted and hidden revisions come back without content: ``None``.
    """

    def __init__(
        self,
        url_template: str = "https://{domain}/w/api.php",
        *,
        user_agent: str = "addlink-stream (https://www.mediawiki.org/wiki/Growth)",
        timeout_s: float = 10.0,
        session: requests.Session | None = None,
    ) -> None:
        if "{domain}" not in url_template:
            raise AddlinkError("the MediaWiki API URL template must contain {domain}")
        self._url_template = url_template
        self._timeout = timeout_s
        self._session = session or requests.Session()
        self._session.headers["User-Agent"] = user_agent

    def fetch(self, *, wiki_id: str, domain: str | None, rev_id: int) -> str | None:
        if not domain:
            return None
        params = {
            "action": "query",
            "prop": "revisions",
            "revids": str(rev_id),
            "rvprop": "content",
            "rvslots": "main",
            "format": "json",
            "formatversion": "2",
        }
        try:
            response = self._session.get(self._url_template.format(domain=domain), params=params, timeout=self._timeout)
        except requests.RequestException as exc:
            raise ContentUnavailable(f"{wiki_id} revision {rev_id}: {type(exc).__name__}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise ContentUnavailable(f"{wiki_id} revision {rev_id}: HTTP {response.status_code}")
        if response.status_code != 200:
            return None
        try:
            return _main_slot_content(response.json())
        except ValueError:
            raise ContentUnavailable(f"{wiki_id} revision {rev_id}: the API answered with something not JSON") from None


def _main_slot_content(body: object) -> str | None:
    """The main slot's wikitext from a formatversion=2 answer, None when absent or hidden."""
    if not isinstance(body, dict):
        return None
    pages = body.get("query", {}).get("pages", []) if isinstance(body.get("query"), dict) else []
    for page in pages if isinstance(pages, list) else []:
        for revision in page.get("revisions", []) if isinstance(page, dict) else []:
            main = revision.get("slots", {}).get("main", {}) if isinstance(revision, dict) else {}
            if isinstance(main, dict) and main.get("contentmodel") == "wikitext":
                content = main.get("content")
                if isinstance(content, str) and not main.get("texthidden"):
                    return content
    return None
