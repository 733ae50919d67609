"""Articles created after a wiki's bundle, offered to the scorer as targets (scoring/overlay.py).

Ingest records each main-namespace article created, undeleted or moved to in Redis, and takes it out
when its page is deleted, moved away or replaced by a redirect (stream/pipeline/state.py,
``<prefix>:articles:<wiki>``). The worker reads that set at most every ``scoring.new_titles_refresh_s``
per wiki and hands the titles to the scorer as plain data with a version that changes only when they
do, so the scoring process rebuilds its overlay (which leaves out what the bundle knows) only then. A
page created now is a target in other pages within that interval.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Protocol

from stream.core.quiet import Clock

__all__ = ["NewTitles", "NewTitlesReader"]


@dataclass(frozen=True)
class NewTitles:
    """A wiki's articles created since its bundle; ``version`` differs whenever ``titles`` does."""

    version: str
    titles: tuple[str, ...]


class ArticleSet(Protocol):
    def new_articles(self, wiki: str) -> list[str]: ...


class NewTitlesReader:
    """Per wiki: the last titles read and when; Redis is read again after ``refresh_s``."""

    def __init__(self, state: ArticleSet, refresh_s: float, clock: Clock) -> None:
        self._state = state
        self._refresh_s = refresh_s
        self._clock = clock
        self._token = secrets.token_hex(4)  # versions of another worker process never collide with ours
        self._count = 0
        self._read: dict[str, tuple[float, NewTitles]] = {}

    def get(self, wiki_id: str) -> NewTitles:
        """The wiki's new titles (may read Redis: raises RedisError)."""
        now = self._clock.monotonic()
        last = self._read.get(wiki_id)
        if last is not None and now - last[0] < self._refresh_s:
            return last[1]
        titles = tuple(self._state.new_articles(wiki_id))
        current = last[1] if last is not None and last[1].titles == titles else self._version(titles)
        self._read[wiki_id] = (now, current)
        return current

    def _version(self, titles: tuple[str, ...]) -> NewTitles:
        self._count += 1
        return NewTitles(f"{self._token}-{self._count}", titles)
