"""The MediaWiki Action API content source, on recorded answer shapes (formatversion=2)."""

from __future__ import annotations

import pytest
import requests

from stream.pipeline.content import ContentUnavailable, MediaWikiActionApi


class Answer:
    def __init__(self, status: int, body: object) -> None:
        self.status_code = status
        self._body = body

    def json(self) -> object:
        if isinstance(self._body, Exception):
            raise self._body
        return self._body


class FakeSession:
    """Records requests; answers with ``answer`` (or raises it)."""

    def __init__(self, answer: Answer | Exception) -> None:
        self.headers: dict[str, str] = {}
        self.answer = answer
        self.calls: list[tuple[str, dict]] = []

    def get(self, url: str, params: dict, timeout: float) -> Answer:
        self.calls.append((url, params))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def revision(slot: dict) -> dict:
    return {"batchcomplete": True, "query": {"pages": [{"pageid": 20, "ns": 0, "title": "Αθλητισμός",
                                                       "revisions": [{"revid": 9816520, "slots": {"main": slot}}]}]}}


def fetch(answer: Answer | Exception) -> tuple[str | None, FakeSession]:
    session = FakeSession(answer)
    api = MediaWikiActionApi("https://{domain}/w/api.php", session=session)  # type: ignore[arg-type]
    return api.fetch(wiki_id="elwiki", domain="el.wikipedia.org", rev_id=9816520), session


def test_the_main_slot_wikitext_is_returned() -> None:
    text, session = fetch(Answer(200, revision({"contentmodel": "wikitext", "contentformat": "text/x-wiki",
                                                 "content": "Ο '''αθλητισμός'''"})))
    assert text == "Ο '''αθλητισμός'''"
    url, params = session.calls[0]
    assert url == "https://el.wikipedia.org/w/api.php"
    assert params["revids"] == "9816520" and params["rvslots"] == "main" and params["formatversion"] == "2"
    assert "addlink-stream" in session.headers["User-Agent"]


@pytest.mark.parametrize("body", [
    {"batchcomplete": True, "query": {"badrevids": {"9816520": {"revid": 9816520, "missing": True}}}},
    revision({"contentmodel": "wikitext", "texthidden": True}),
    revision({"contentmodel": "json", "content": "{}"}),
    {"error": {"code": "badrevids"}},
], ids=["missing", "hidden", "not-wikitext", "api-error"])
def test_revisions_without_public_wikitext_are_none(body: object) -> None:
    assert fetch(Answer(200, body))[0] is None


@pytest.mark.parametrize("answer", [Answer(503, {}), Answer(429, {}), requests.ConnectionError("refused"),
                                    Answer(200, ValueError("not json"))], ids=["503", "429", "network", "garbage"])
def test_an_unavailable_api_raises_so_the_pipeline_backs_off(answer: object) -> None:
    with pytest.raises(ContentUnavailable):
        fetch(answer)  # type: ignore[arg-type]


def test_an_event_without_domain_cannot_be_fetched() -> None:
    session = FakeSession(Answer(200, {}))
    api = MediaWikiActionApi(session=session)  # type: ignore[arg-type]
    assert api.fetch(wiki_id="elwiki", domain=None, rev_id=1) is None
    assert session.calls == []
