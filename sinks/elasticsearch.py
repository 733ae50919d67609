"""Weighted tags written straight to Elasticsearch (the only module that imports elasticsearch).

What it emulates: CirrusSearch's direct-write path (``DataSender::sendWeightedTagsUpdate``), whose
bulk ``update`` merges ``weighted_tags`` with search-extra's ``super_detect_noop`` ``multilist``
handler (reference events-and-search.md §5.3). Stock Elasticsearch has neither that plugin nor,
in every distribution, Painless, so the merge is done here with optimistic concurrency:

1. one ``mget`` reads ``weighted_tags`` (plus ``namespace``/``title``) and ``_seq_no``/``_primary_term``
   of every page in the flush;
2. :func:`merge_group` computes the new list: set makes the ``recommendation.link`` group exactly
   ``["recommendation.link/exists"]``, clear removes the group, values of every other group
   (``recommendation.image/...``, topics, ...) stay as they are, in their order;
3. pages whose group already holds what is asked are not written at all (outcome ``noop``: no
   request, no new version); the others go in one bulk request, each write conditional on the
   ``_seq_no``/``_primary_term`` read in step 1;
4. a page written by someone else in between (HTTP 409) is read and merged again, up to
   ``max_attempts`` rounds; then :class:`TransientSinkError`.

Compare-and-set on freshness (changes carrying a ``rev_id``, with ``fences`` given): between
step 1 and step 3 the pages' fences are read from MariaDB, and a change whose revision a newer one
invalidated is dropped (outcome ``stale``). Why this closes the race with another process's
invalidation (which commits its fence in MariaDB *before* it clears the tag, the checkpoint's
order): if that clear reached Elasticsearch before our read in step 1, its fence was committed
before our fence read, so we drop our change; if it lands between step 1 and our write, our write
is conditional on the ``_seq_no`` read in step 1 and fails with 409 (read, fenced and merged again);
if it lands after our write, the clear wins. Either way no older revision's tag outlives a newer
revision's invalidation.

Document id = page id, index ``<wiki_id>_content`` (``index_pattern``).

Missing document (the page has no document in the index yet), decided so that a committed row
always has its tag, which is the invariant readers rely on (tasks are found through the tag):

- set: a placeholder ``{"weighted_tags": ["recommendation.link/exists"]}`` is created. It has no
  ``namespace`` or ``title``; CirrusSearch always filters by namespace, so it is never a search
  hit. When the Search Update Pipeline later indexes the page, its ``super_detect_noop`` update
  merges the page's fields into the existing document and leaves ``weighted_tags`` (which a
  rendered page does not carry) as they are, so the task appears with the page [inference from
  how CirrusSearch merges; verify on a CirrusSearch index]. Skipping instead would leave the row
  without a tag, undiscoverable until the next edit, because nothing else re-sends the tag.
- clear: nothing to clear; outcome ``not_found`` (CirrusSearch ignores missing documents too).
  A clear that empties a placeholder (no ``namespace``, no ``title``, no other tags) deletes it
  (outcome ``deleted``), so a page deleted before it was ever indexed leaves nothing behind.

Failures, never silent: an unreachable cluster, a whole request refused, and per-item 409/429/5xx
(or an unavailable shard) raise :class:`TransientSinkError`, so the pipeline backs off and retries.
A failure about one page that no retry can fix (a mapping that rejects the field, a closed or
missing index: writes go to existing indices only, never auto-created with a wrong mapping) is
*isolated* when ``on_failure`` is given: that change is handed to ``on_failure(change, reason)``
(outcome ``failed``), the others are written, and the flush succeeds, so one wiki's broken index
never stops the others. Without ``on_failure`` it raises :class:`SinkError` as before.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError, __versionstr__, helpers

from sinks.base import (
    FenceReader,
    LINK_TAG_NAME,
    LINK_TAG_PREFIX,
    FlushResult,
    SinkError,
    TagAction,
    TagChange,
    TagSink,
    TransientSinkError,
    validate_wiki_id,
)

log = logging.getLogger(__name__)

FIELD = "weighted_tags"
LINK_TAG = f"{LINK_TAG_PREFIX}/{LINK_TAG_NAME}"

INDEX_BODY: dict[str, Any] = {
    "mappings": {
        "properties": {
            # CirrusSearch indexes this as text through a keyword tokenizer plus a filter turning
            # "|<weight>" into term frequency. The link tag has no weight, so its one token is the
            # whole value, which a keyword field matches identically with stock Elasticsearch.
            FIELD: {"type": "keyword"},
            "namespace": {"type": "long"},
            "title": {"type": "text"},
        }
    },
}

_TRANSIENT_STATUS = frozenset({409, 429, 500, 502, 503, 504})
_TRANSIENT_TYPES = frozenset({"no_shard_available_action_exception", "unavailable_shards_exception",
                              "es_rejected_execution_exception", "circuit_breaking_exception"})
_READ_FIELDS = [FIELD, "namespace", "title"]


def merge_group(current: Any, prefix: str, tags: Sequence[str]) -> list[Any] | None:
    """``weighted_tags`` after replacing group ``prefix`` by ``tags``; None if nothing changes.

    ``current`` is the stored value (a list, a single value or None). The group is compared as a
    set, like the multilist handler's "close enough" noop test; other values keep their order.
    """
    values = current if isinstance(current, list) else ([] if current is None else [current])
    head = prefix + "/"
    group = {v for v in values if isinstance(v, str) and v.startswith(head)}
    if group == set(tags):
        return None
    return [v for v in values if not (isinstance(v, str) and v.startswith(head))] + list(tags)


def connect(
    url: str,
    *,
    username: str | None = None,
    password: str | None = None,
    api_key: str | None = None,
    ca_certs: str | None = None,
    verify_certs: bool = True,
    request_timeout: float = 30.0,
) -> Elasticsearch:
    """An Elasticsearch client with basic or API-key auth and TLS (``ca_certs``) as configured."""
    if api_key and username:
        raise ValueError("elasticsearch: configure either username/password or api_key, not both")
    options: dict[str, Any] = {"request_timeout": request_timeout}
    if username:
        options["basic_auth"] = (username, password or "")
    if api_key:
        options["api_key"] = api_key
    if url.startswith("https://"):
        options["verify_certs"] = verify_certs
        if ca_certs:
            options["ca_certs"] = ca_certs
    return Elasticsearch(url, **options)


@dataclass(frozen=True)
class _Doc:
    found: bool
    error: str | None = None  # the document could not be read, for a reason no retry fixes
    tags: Any = None
    placeholder: bool = False
    seq_no: int | None = None
    primary_term: int | None = None


class WeightedTagSink(TagSink):
    """Sets and clears ``recommendation.link/exists`` on ``<wiki>_content`` documents."""

    name = "elasticsearch"

    def __init__(
        self, client: Elasticsearch, *, index_pattern: str = "{wiki_id}_content", max_attempts: int = 5,
        fences: FenceReader | None = None, on_failure: Callable[[TagChange, str], None] | None = None,
    ) -> None:
        super().__init__(fences)
        self._on_failure = on_failure
        if "{wiki_id}" not in index_pattern:
            raise ValueError("index_pattern must contain {wiki_id}")
        self.client = client
        self.index_pattern = index_pattern
        self.max_attempts = max_attempts
        self._known_indices: set[str] = set()

    def index_name(self, wiki_id: str) -> str:
        return self.index_pattern.format(wiki_id=validate_wiki_id(wiki_id))

    def setup(self) -> str:
        """Check the cluster answers and speaks the client's major version; returns its version.

        A server newer than the client is refused; an older major works through the client's
        compatibility headers but is not a supported pairing, so it is logged as a warning.
        """
        try:
            nodes = self.client.nodes.info(node_id="_local", filter_path="nodes.*.version")
        except (ApiError, TransportError) as exc:
            raise _translate(exc, "cannot reach elasticsearch") from exc
        server = next(iter(nodes["nodes"].values()))["version"]
        server_major, client_major = int(server.split(".")[0]), int(__versionstr__.split(".")[0])
        if server_major > client_major:
            raise SinkError(f"elasticsearch server {server} is newer than client {__versionstr__}")
        if server_major < client_major:
            log.warning("elasticsearch server %s is older than client %s; use matching majors", server, __versionstr__)
        return str(server)

    def ensure_index(self, wiki_id: str) -> str:
        """Create the wiki's index with a ``weighted_tags`` mapping if missing (local/test use)."""
        index = self.index_name(wiki_id)
        try:
            if not self.client.indices.exists(index=index):
                self.client.indices.create(index=index, **INDEX_BODY)
        except ApiError as exc:
            if "resource_already_exists" not in str(exc):
                raise _translate(exc, f"cannot create index {index}") from exc
        except TransportError as exc:
            raise _translate(exc, f"cannot create index {index}") from exc
        self._known_indices.add(index)
        return index

    def drop_index(self, wiki_id: str) -> None:
        """Delete the wiki's index (benchmarks and tests only); a missing index is fine."""
        index = self.index_name(wiki_id)
        try:
            self.client.indices.delete(index=index, ignore_unavailable=True)
        except (ApiError, TransportError) as exc:
            raise _translate(exc, f"cannot delete index {index}") from exc
        self._known_indices.discard(index)

    def flush(self) -> FlushResult:
        """Apply the buffered changes (last per page) as described in the module docstring.

        Outcomes: ``created`` (placeholder made), ``updated``, ``noop``, ``deleted`` (placeholder
        removed), ``not_found`` (clear of a missing document), ``stale``, ``failed`` (handed to
        ``on_failure``), ``conflicts`` (re-read rounds).
        """
        started = time.monotonic()
        changes = list(self._pending.values())
        if not changes:
            return self._timed(self.name, 0, started, {})
        outcomes: Counter[str] = Counter({k: 0 for k in ("created", "updated", "noop", "deleted", "not_found",
                                                          "stale", "failed")})
        missing = {index for index in {self.index_name(c.wiki_id) for c in changes} - self._known_indices
                   if not self._index_exists(index)}
        todo = []
        for change in changes:
            index = self.index_name(change.wiki_id)
            if index in missing:
                self._fail(change, f"elasticsearch index {index} does not exist (check index_pattern; "
                           "ensure_index locally)", outcomes)
            else:
                todo.append(change)
        for _ in range(self.max_attempts):
            todo = self._apply(todo, outcomes)
            if not todo:
                break
            outcomes["conflicts"] += len(todo)
        else:
            raise TransientSinkError(
                f"{len(todo)} weighted-tag updates still conflict after {self.max_attempts} attempts"
            )
        self._pending.clear()
        return self._timed(self.name, len(changes), started, outcomes)

    def _apply(self, changes: list[TagChange], outcomes: Counter[str]) -> list[TagChange]:
        """One read-merge-write round; returns the changes that lost a race and must be redone."""
        docs = self._read(changes)
        stale = self._stale(changes)  # after the read: see the module docstring
        writes: list[tuple[TagChange, list[dict[str, Any]]]] = []
        for change, doc in zip(changes, docs, strict=True):
            if doc.error is not None:
                self._fail(change, doc.error, outcomes)
                continue
            if change.key in stale:
                outcomes["stale"] += 1
                continue
            target = {"_index": self.index_name(change.wiki_id), "_id": str(change.page_id)}
            tags = [LINK_TAG] if change.action is TagAction.SET else []
            if not doc.found:
                if change.action is TagAction.CLEAR:
                    outcomes["not_found"] += 1
                else:
                    writes.append((change, [{"create": target}, {FIELD: tags}]))
                continue
            merged = merge_group(doc.tags, LINK_TAG_PREFIX, tags)
            guard = {"if_seq_no": doc.seq_no, "if_primary_term": doc.primary_term}
            if merged is None:
                outcomes["noop"] += 1
            elif not merged and doc.placeholder:
                writes.append((change, [{"delete": target | guard}]))
            else:
                writes.append((change, [{"update": target | guard}, {"doc": {FIELD: merged}}]))
        if not writes:
            return []
        try:
            response = self.client.bulk(operations=[line for _, lines in writes for line in lines])
        except (ApiError, TransportError) as exc:
            raise _translate(exc, f"bulk of {len(writes)} weighted-tag writes failed") from exc
        retry: list[TagChange] = []
        transient: list[str] = []
        for (change, _), item in zip(writes, response["items"], strict=True):
            result = next(iter(item.values()))
            error = result.get("error")
            if error is None:
                outcomes[result["result"]] += 1
                continue
            if error.get("type") == "version_conflict_engine_exception":
                retry.append(change)
                continue
            reason = f"{result.get('_index')}/{result.get('_id')}: {error.get('type')}: {error.get('reason')}"
            if int(result.get("status", 0)) in _TRANSIENT_STATUS:
                transient.append(reason)
            else:
                self._fail(change, reason, outcomes)
        if transient:
            raise TransientSinkError(f"{len(transient)} of {len(writes)} weighted-tag writes failed; "
                                     f"first: {transient[0]}")
        return retry

    def _fail(self, change: TagChange, reason: str, outcomes: Counter[str]) -> None:
        """A failure no retry fixes: isolated to the page through ``on_failure``, else raised."""
        if self._on_failure is None:
            raise SinkError(f"weighted-tag write failed: {reason}")
        log.warning("weighted-tag write failed permanently", extra={"wiki": change.wiki_id,
                                                                    "page_id": change.page_id, "reason": reason})
        self._on_failure(change, reason)
        outcomes["failed"] += 1

    def _read(self, changes: list[TagChange]) -> list[_Doc]:
        wanted = [{"_index": self.index_name(c.wiki_id), "_id": str(c.page_id)} for c in changes]
        try:
            response = self.client.mget(docs=wanted, source_includes=_READ_FIELDS)
        except (ApiError, TransportError) as exc:
            raise _translate(exc, f"cannot read {len(changes)} documents") from exc
        docs = []
        for doc in response["docs"]:
            if "error" in doc:
                error = doc["error"]
                reason = f"cannot read {doc.get('_index')}/{doc.get('_id')}: {error}"
                if isinstance(error, dict) and error.get("type") in _TRANSIENT_TYPES:
                    raise TransientSinkError(reason)
                docs.append(_Doc(found=False, error=reason))
                continue
            if not doc.get("found"):
                docs.append(_Doc(found=False))
                continue
            source = doc.get("_source") or {}
            docs.append(
                _Doc(
                    found=True,
                    tags=source.get(FIELD),
                    placeholder="namespace" not in source and "title" not in source,
                    seq_no=doc["_seq_no"],
                    primary_term=doc["_primary_term"],
                )
            )
        return docs

    def _index_exists(self, index: str) -> bool:
        try:
            exists = bool(self.client.indices.exists(index=index))
        except (ApiError, TransportError) as exc:
            raise _translate(exc, f"cannot check index {index}") from exc
        if exists:
            self._known_indices.add(index)
        return exists

    def tagged_page_ids(self, wiki_id: str, *, batch_size: int = 1000) -> Iterator[int]:
        """Page ids whose document carries ``recommendation.link/exists`` (scroll; for reconcile)."""
        index = self.index_name(wiki_id)
        query = {"query": {"match": {FIELD: LINK_TAG}}, "_source": False}
        try:
            for hit in helpers.scan(self.client, index=index, query=query, size=batch_size):
                yield int(hit["_id"])
        except (ApiError, TransportError, helpers.ScanError) as exc:
            raise _translate(exc, f"cannot list tagged pages of {index}") from exc

    def count_tagged(self, wiki_id: str) -> int:
        """The number of documents carrying ``recommendation.link/exists``, after a refresh so that every
        acknowledged write is counted (a backfill's check; a refresh is too heavy for the pipeline)."""
        index = self.index_name(wiki_id)
        try:
            self.client.indices.refresh(index=index)
            return int(self.client.count(index=index, query={"match": {FIELD: LINK_TAG}})["count"])
        except (ApiError, TransportError) as exc:
            raise _translate(exc, f"cannot count tagged pages of {index}") from exc

    def link_tagged(self, wiki_id: str, page_ids: Sequence[int]) -> frozenset[int]:
        """Those of ``page_ids`` whose document carries ``recommendation.link/exists`` now.

        One ``mget``, which is realtime (unlike search, it sees writes not yet refreshed), so a
        reconcile check reads the tag as the next write would find it. No document = no tag.
        """
        if not page_ids:
            return frozenset()
        # _read only looks at each change's page (the action is irrelevant to a read)
        docs = self._read([TagChange(wiki_id, page_id, TagAction.CLEAR) for page_id in page_ids])
        errors = [doc.error for doc in docs if doc.error is not None]
        if errors:
            raise SinkError(errors[0])
        return frozenset(page_id for page_id, doc in zip(page_ids, docs, strict=True)
                         if doc.found and LINK_TAG in (doc.tags if isinstance(doc.tags, list) else [doc.tags]))

    def close(self) -> None:
        super().close()
        self.client.close()


def _translate(exc: Exception, what: str) -> SinkError:
    if isinstance(exc, ApiError):
        status = exc.meta.status
        kind = TransientSinkError if status in _TRANSIENT_STATUS else SinkError
        return kind(f"{what}: HTTP {status} {exc.message}")
    return TransientSinkError(f"{what}: {exc}")
