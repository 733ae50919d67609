"""The bundle's page table: every main-namespace title of the dump -> page id, redirect or not.

GrowthExperiments maps a suggested target to a page (``Title::getArticleID``) to prune red links and
targets rejected twice (their ``gels_target`` is a page id). This table gives the worker that
mapping as of the dump; the stream's create, move, delete and undelete events (``stream/pipeline/state.py``)
are laid over it, so it stays current after a deployment.

Files (``pages.*.npy``, memory-mapped, never loaded as Python objects): a ``StringTable`` from
normalised title to page id, and ``pages.redirect.npy`` (int8, 1 for a redirect page) in key order.
Size: the table's titles (UTF-8) + 8 bytes of offset + 4 of page id + 1 redirect flag per title,
plus 8 bytes per open-addressing slot (2 to 4 slots per title).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from scoring.stringtable import PARTS, StringTable, write_string_table

__all__ = ["PAGE_FILES", "Pages", "write_pages"]

_NAME = "pages"
_REDIRECT = "pages.redirect.npy"
PAGE_FILES = (*(f"{_NAME}.{part}.npy" for part in PARTS), _REDIRECT)


def write_pages(
    directory: Path, titles: Sequence[str], page_ids: Sequence[int], redirects: Sequence[int]
) -> list[Path]:
    """Write the page table; a title listed twice (a broken dump) keeps its first page. Returns the paths."""
    first: dict[str, int] = {}
    for index, title in enumerate(titles):
        first.setdefault(title, index)
    keep = np.fromiter(first.values(), dtype=np.int64, count=len(first))
    ids = np.asarray(page_ids, dtype=np.int64)[keep]
    if ids.size and (ids.min() < 0 or ids.max() > np.iinfo(np.int32).max):
        raise ValueError("page ids must fit in int32")
    paths = write_string_table(directory, _NAME, list(first), ids.astype(np.int32))
    path = directory / _REDIRECT
    np.save(path, np.asarray(redirects, dtype=np.int8)[keep], allow_pickle=False)
    return [*paths, path]


class Pages:
    """Read-only view of the page table; safe to share between threads."""

    def __init__(self, directory: Path) -> None:
        self._table = StringTable(directory, _NAME)
        self._redirect = np.load(directory / _REDIRECT, mmap_mode="r", allow_pickle=False)

    @staticmethod
    def present(directory: Path) -> bool:
        return all((directory / name).is_file() for name in PAGE_FILES)

    def __len__(self) -> int:
        return len(self._table)

    def page_id(self, title: str) -> int | None:
        """The page id of a normalised main-namespace title, or None when the dump had no such page."""
        value = self._table.get(title)
        return None if value < 0 else value

    def is_redirect(self, title: str) -> bool:
        index = self._table.index(title)
        return index >= 0 and bool(self._redirect[index])
