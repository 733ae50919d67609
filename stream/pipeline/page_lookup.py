"""Title -> page as the worker knows it: the stream's events laid over the bundle's page table.

The bundle's page table (scoring/pages.py) is the wiki as of its dump; Redis holds what create,
move, delete and undelete events said since (stream/pipeline/state.py), which is newer and wins. So right
after a deployment, with nothing in Redis yet, red links and rejected targets are still pruned
as GrowthExperiments prunes them (reference growthexperiments.md §2.4, §5.2).

Only a complete page table (a bundle trained on a complete dump, or given the whole wiki's dump for
its page table) can call a title missing from it a red link; otherwise absence means "unknown" and
the target is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from scoring.pages import Pages
from stream.pipeline.state import TitleRecord


@dataclass(frozen=True)
class PageLookup:
    """``events``: the stream's last word per title (``PageState.titles``); ``pages``: the bundle's
    table or None; ``complete``: that table lists every page of the wiki (``Bundle.pages_complete``)."""

    events: Mapping[str, TitleRecord]
    pages: Pages | None
    complete: bool

    def page_id(self, title: str) -> int | None:
        """The title's page id, or None when it has no page or its id is unknown."""
        record = self.events.get(title)
        if record is not None:
            return record.page_id
        return self.pages.page_id(title) if self.pages is not None else None

    def gone(self, title: str) -> bool:
        """True when the title has no page: deleted or moved away since, or a red link already in
        a complete dump."""
        record = self.events.get(title)
        if record is not None:
            return record.gone
        return self.complete and self.pages is not None and self.pages.page_id(title) is None
