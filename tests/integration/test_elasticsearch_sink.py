"""sinks.elasticsearch against the local stack's real Elasticsearch: multilist semantics of the
``recommendation.link`` group, no-op repeats without a new version, missing documents, races
with another writer, reconciliation listing, and failures that raise."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from sinks.base import SinkError, TagAction, TagChange, TransientSinkError
from sinks.elasticsearch import LINK_TAG, WeightedTagSink, connect, merge_group

pytestmark = pytest.mark.integration

OTHER_TAGS = ["recommendation.image/exists", "classification.prediction.articletopic/History|532"]


@pytest.fixture
def es(elasticsearch_url: str) -> Iterator[Elasticsearch]:
    """A client built by the sink's own factory."""
    client = connect(elasticsearch_url)
    yield client
    client.close()


@pytest.fixture
def wiki(es: Elasticsearch) -> Iterator[str]:
    """A wiki id of its own; its ``<wiki>_content`` index is deleted afterwards."""
    wiki_id = f"t{secrets.token_hex(4)}wiki"
    yield wiki_id
    es.indices.delete(index=f"{wiki_id}_content", ignore_unavailable=True)


@pytest.fixture
def sink(es: Elasticsearch, wiki: str) -> WeightedTagSink:
    sink = WeightedTagSink(es)
    assert sink.ensure_index(wiki) == f"{wiki}_content"
    return sink


def page_doc(es: Elasticsearch, wiki: str, page_id: int, tags: list[str] | None) -> None:
    """A page document as CirrusSearch would have it (title, namespace, maybe tags)."""
    body: dict[str, Any] = {"title": f"Page {page_id}", "namespace": 0, "text": "..."}
    if tags is not None:
        body["weighted_tags"] = tags
    es.index(index=f"{wiki}_content", id=str(page_id), document=body, refresh=True)


def get(es: Elasticsearch, wiki: str, page_id: int) -> dict[str, Any] | None:
    response = es.options(ignore_status=404).get(index=f"{wiki}_content", id=str(page_id))
    return dict(response) if response.get("found") else None


def flush(sink: WeightedTagSink, wiki: str, *changes: tuple[TagAction, int]) -> dict[str, int]:
    for action, page_id in changes:
        sink.add(TagChange(wiki, page_id, action))
    return dict(sink.flush().outcomes)


def test_set_replaces_only_the_link_group_and_keeps_the_page(
    es: Elasticsearch, sink: WeightedTagSink, wiki: str
) -> None:
    page_doc(es, wiki, 1, [OTHER_TAGS[0], "recommendation.link/stale|3", OTHER_TAGS[1], "recommendation.link/x"])

    outcomes = flush(sink, wiki, (TagAction.SET, 1))

    assert outcomes["updated"] == 1
    source = get(es, wiki, 1)["_source"]
    assert source["weighted_tags"] == [*OTHER_TAGS, LINK_TAG]
    assert source["title"] == "Page 1" and source["text"] == "..."


def test_repeat_is_a_noop_without_a_new_version(es: Elasticsearch, sink: WeightedTagSink, wiki: str) -> None:
    page_doc(es, wiki, 1, list(OTHER_TAGS))
    flush(sink, wiki, (TagAction.SET, 1))
    before = get(es, wiki, 1)

    outcomes = flush(sink, wiki, (TagAction.SET, 1))

    after = get(es, wiki, 1)
    assert outcomes["noop"] == 1 and outcomes["updated"] == 0
    assert (after["_version"], after["_seq_no"]) == (before["_version"], before["_seq_no"])


def test_clear_removes_only_the_link_group_and_repeats_as_noop(
    es: Elasticsearch, sink: WeightedTagSink, wiki: str
) -> None:
    page_doc(es, wiki, 1, [OTHER_TAGS[0], LINK_TAG, OTHER_TAGS[1]])

    assert flush(sink, wiki, (TagAction.CLEAR, 1))["updated"] == 1
    cleared = get(es, wiki, 1)
    assert cleared["_source"]["weighted_tags"] == OTHER_TAGS

    assert flush(sink, wiki, (TagAction.CLEAR, 1))["noop"] == 1
    assert get(es, wiki, 1)["_version"] == cleared["_version"]


def test_clear_of_the_last_tag_keeps_a_real_page_document(es: Elasticsearch, sink: WeightedTagSink, wiki: str) -> None:
    page_doc(es, wiki, 1, [LINK_TAG])
    assert flush(sink, wiki, (TagAction.CLEAR, 1))["updated"] == 1
    assert get(es, wiki, 1)["_source"]["weighted_tags"] == []
    page_doc(es, wiki, 2, None)  # never had tags
    assert flush(sink, wiki, (TagAction.CLEAR, 2))["noop"] == 1


def test_missing_document_set_makes_an_invisible_placeholder_and_clear_removes_it(
    es: Elasticsearch, sink: WeightedTagSink, wiki: str
) -> None:
    assert flush(sink, wiki, (TagAction.SET, 7))["created"] == 1
    assert get(es, wiki, 7)["_source"] == {"weighted_tags": [LINK_TAG]}
    es.indices.refresh(index=f"{wiki}_content")
    assert list(sink.tagged_page_ids(wiki)) == [7]  # the row's tag exists...
    cirrus_like = {"bool": {"filter": [{"match": {"weighted_tags": LINK_TAG}}, {"terms": {"namespace": [0]}}]}}
    assert es.search(index=f"{wiki}_content", query=cirrus_like)["hits"]["total"]["value"] == 0  # ...unseen

    assert flush(sink, wiki, (TagAction.SET, 7))["noop"] == 1

    # The search updater indexing the page later merges its fields into the placeholder.
    es.update(index=f"{wiki}_content", id="7", doc={"title": "Page 7", "namespace": 0}, refresh=True)
    assert es.search(index=f"{wiki}_content", query=cirrus_like)["hits"]["total"]["value"] == 1

    assert flush(sink, wiki, (TagAction.SET, 8))["created"] == 1
    assert flush(sink, wiki, (TagAction.CLEAR, 8))["deleted"] == 1
    assert get(es, wiki, 8) is None
    assert flush(sink, wiki, (TagAction.CLEAR, 8))["not_found"] == 1
    assert get(es, wiki, 8) is None


def test_last_change_per_page_wins_within_a_flush(es: Elasticsearch, sink: WeightedTagSink, wiki: str) -> None:
    page_doc(es, wiki, 1, None)
    page_doc(es, wiki, 2, None)
    result = flush(sink, wiki, (TagAction.SET, 1), (TagAction.SET, 2), (TagAction.CLEAR, 1))
    assert result["updated"] == 1 and result["noop"] == 1
    assert "weighted_tags" not in get(es, wiki, 1)["_source"]
    assert get(es, wiki, 2)["_source"]["weighted_tags"] == [LINK_TAG]


class RacingSink(WeightedTagSink):
    """Lets another writer change the document between this sink's read and its write, once."""

    def __init__(self, client: Elasticsearch, interloper: dict[str, Any]) -> None:
        super().__init__(client)
        self.interloper = interloper

    def _read(self, changes: list[TagChange]) -> list:
        docs = super()._read(changes)
        if self.interloper:
            self.client.update(**self.interloper)
            self.interloper = {}
        return docs


def test_a_concurrent_write_is_merged_not_lost(es: Elasticsearch, wiki: str) -> None:
    WeightedTagSink(es).ensure_index(wiki)
    page_doc(es, wiki, 1, [OTHER_TAGS[0]])
    other_writer = {"index": f"{wiki}_content", "id": "1", "doc": {"weighted_tags": [OTHER_TAGS[1]]}}
    sink = RacingSink(es, other_writer)
    sink.set_link_tag(wiki, 1)

    outcomes = sink.flush().outcomes

    assert outcomes["conflicts"] == 1 and outcomes["updated"] == 1
    assert get(es, wiki, 1)["_source"]["weighted_tags"] == [OTHER_TAGS[1], LINK_TAG]


def test_tagged_page_ids_lists_every_tagged_page(es: Elasticsearch, sink: WeightedTagSink, wiki: str) -> None:
    for page_id in range(1, 31):
        page_doc(es, wiki, page_id, [OTHER_TAGS[0]])
        if page_id % 3:
            sink.set_link_tag(wiki, page_id)
    sink.flush()
    es.indices.refresh(index=f"{wiki}_content")
    assert sorted(sink.tagged_page_ids(wiki, batch_size=7)) == [p for p in range(1, 31) if p % 3]


def test_missing_index_raises_and_keeps_the_buffer(es: Elasticsearch) -> None:
    sink = WeightedTagSink(es, index_pattern="{wiki_id}_nosuchindex")
    sink.set_link_tag("enwiki", 1)
    with pytest.raises(SinkError, match="does not exist") as raised:
        sink.flush()
    assert not isinstance(raised.value, TransientSinkError)
    assert sink.pending == 1
    assert not es.indices.exists(index="enwiki_nosuchindex")  # never auto-created


def test_unreachable_cluster_is_transient() -> None:
    sink = WeightedTagSink(connect("http://127.0.0.1:1", request_timeout=2))
    sink.set_link_tag("enwiki", 1)
    with pytest.raises(TransientSinkError):
        sink.flush()
    with pytest.raises(TransientSinkError):
        sink.setup()
    assert sink.pending == 1


def test_setup_reports_the_server_version(sink: WeightedTagSink) -> None:
    assert sink.setup().split(".")[0].isdigit()


def test_merge_group_semantics() -> None:
    assert merge_group(None, "recommendation.link", [LINK_TAG]) == [LINK_TAG]
    assert merge_group("recommendation.link/exists", "recommendation.link", [LINK_TAG]) is None
    assert merge_group([LINK_TAG, LINK_TAG], "recommendation.link", [LINK_TAG]) is None  # same set
    assert merge_group(["recommendation.linked/x"], "recommendation.link", []) is None  # not our group
    assert merge_group([1, "recommendation.link/a"], "recommendation.link", []) == [1]


def test_drop_index(es: Elasticsearch, sink: WeightedTagSink, wiki: str) -> None:
    sink.drop_index(wiki)
    assert not es.indices.exists(index=f"{wiki}_content")
    sink.drop_index(wiki)  # already gone: fine
    sink.set_link_tag(wiki, 1)
    with pytest.raises(SinkError, match="does not exist"):
        sink.flush()
