"""`addlink produce` on the real broker: two dumps of the same wiki in, each page's latest revision
out once (tests/data/dumps/ltg-sample.xml.bz2 and a newer copy of it in which two articles have a
new revision)."""

from __future__ import annotations

import bz2
import json
from pathlib import Path

import pytest

from scoring.dumps import is_article, iter_pages
from stream.ops.backfill import produce_dump
from stream.config import Settings
from test_event_sinks_kafka import read_back

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "dumps" / "ltg-sample.xml.bz2"
NEWER = 10_000_000  # added to the revision ids of the edited articles


def newer_dump(tmp_path: Path, edited: list[int]) -> Path:
    """The sample with a later revision (higher id, new text) of the articles ``edited`` (revision ids)."""
    xml = bz2.decompress(SAMPLE.read_bytes()).decode("utf-8")
    for rev_id in edited:
        old = f"<id>{rev_id}</id>"
        assert xml.count(old) == 1
        xml = xml.replace(old, f"<id>{rev_id + NEWER}</id>")
    path = tmp_path / "ltgwiki-newer.xml"
    path.write_text(xml, encoding="utf-8")
    return path


def test_two_dumps_publish_each_article_once_at_its_newest_revision(kafka_bootstrap: str, kafka_topic: str,
                                                                     tmp_path: Path) -> None:
    articles = {page.page_id: page.rev_id for page in iter_pages(SAMPLE) if is_article(page)}
    edited = list(articles.values())[:2]
    newer = newer_dump(tmp_path, edited)
    settings = Settings(kafka={"bootstrap_servers": kafka_bootstrap})
    summary = produce_dump(settings, wiki_id="ltgwiki", dumps=[newer, SAMPLE], topic=kafka_topic, progress=False)
    assert summary.events == len(articles)
    events = [json.loads(value) for _, value in read_back(kafka_bootstrap, kafka_topic, len(articles))]
    published = {event["page"]["page_id"]: event["revision"]["rev_id"] for event in events}
    assert len(published) == len(events), "each page once"
    assert published == {page_id: rev_id + NEWER if rev_id in edited else rev_id for page_id, rev_id in articles.items()}
