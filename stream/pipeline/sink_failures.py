"""A write refused for good is the page's problem, not the pipeline's: reported, isolated, never half-done.

The sinks hand such failures here (``RecommendationStore(on_failure=...)``,
``WeightedTagSink(on_failure=...)``) instead of raising, so the checkpoint goes on and every other
page and wiki keeps flowing; transient failures still raise and keep the loop's backpressure.
Each failure becomes an error event (``<job>.error``, the write as ``raw_event``) and is counted
(``addlink_errors_total{stage, error_type="PermanentWriteFailure"}``), and the stores are left
consistent, the invariant readers rely on being "no tag without its row":

- a row refused: the page's pending tag *set* is withdrawn (a pending clear still goes out);
- a tag set refused: the row it was for is deleted at once (that exact revision, committed), so the
  page has neither; its next edit, or ``addlink rescore`` once the index is fixed, tries again;
- a tag clear refused: nothing else to undo (the rows are already gone); ``addlink reconcile``
  reports the leftover tag once the index accepts writes again.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Protocol

from sinks.base import TagAction, TagChange, TagSink
from sinks.mariadb import RowWrite
from stream.pipeline.consume_loop import ErrorReporter
from stream.core.events import encode_key
from stream.observe.metrics import Sensor


class PermanentWriteFailure(Exception):
    """A sink refused a page's write for a reason no retry fixes (named in the message)."""


class RevisionRows(Protocol):
    def delete_revisions(self, wiki_id: str, page_id: int, rev_ids: list[int]) -> int: ...


class PageFailures:
    """The ``on_failure`` of one stage's row store and tag sink (see the module docstring).

    Built before the sinks (they take its methods), then :meth:`bind` to them."""

    def __init__(self, *, errors: ErrorReporter, sensor: Sensor, role: str) -> None:
        self._errors = errors
        self._sensor = sensor
        self._role = role
        self._rows: RevisionRows | None = None
        self._tags: TagSink | None = None

    def bind(self, rows: RevisionRows, tags: TagSink) -> None:
        self._rows, self._tags = rows, tags

    def row_failed(self, write: RowWrite, reason: str) -> None:
        assert self._tags is not None, "bind() first"
        self._tags.withdraw_set(write.wiki_id, write.page_id)
        self._report("mariadb", write, write.wiki_id, write.page_id, reason)

    def tag_failed(self, change: TagChange, reason: str) -> None:
        if change.action is TagAction.SET and change.rev_id is not None:
            assert self._rows is not None, "bind() first"
            self._rows.delete_revisions(change.wiki_id, change.page_id, [change.rev_id])
        self._report("elasticsearch", change, change.wiki_id, change.page_id, reason)

    def _report(self, sink: str, write: RowWrite | TagChange, wiki_id: str, page_id: int, reason: str) -> None:
        fields = {k: v for k, v in dataclasses.asdict(write).items() if k != "data"}  # the write, not the JSON
        raw = json.dumps({"sink": sink, **fields}, default=str, ensure_ascii=False).encode("utf-8")
        self._errors.report(raw, PermanentWriteFailure(f"{sink}: {reason}"), key=encode_key(wiki_id, page_id))
        self._sensor.on_error(self._role, PermanentWriteFailure.__name__)
