"""Link targets, memory-mapped: titles, redirects onto them, and per-target numbers.

Files (``.npy``, opened with ``mmap_mode="r"``):

    titles.*.npy          StringTable: normalised title -> target id. Keys ``0 .. n-1`` are the targets'
                          own titles (so ``title(i)`` is key ``i``); later keys are redirect titles of the
                          dump whose (one-hop) target is a target, mapped to that target's id.
    target_articles.npy   int32 number of training articles linking to the target (anywhere in them)
    target_known.npy      int8 1 when the target is an article (ns 0, not a redirect) of the dump
    target_vectors.npy    float16 (n, relatedness.DIM) unit-length context vectors, see relatedness.py

A target is a title, not a page: most targets of a sample dump are not pages of it, and they are kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from scoring.stringtable import StringTable, write_string_table

__all__ = ["TARGET_FILES", "Targets", "write_targets"]

TARGET_FILES = ("target_articles", "target_known", "target_vectors")


def write_targets(
    directory: Path,
    titles: Sequence[str],
    redirects: Sequence[tuple[str, int]],
    articles: np.ndarray,
    known: np.ndarray,
    vectors: np.ndarray,
) -> list[Path]:
    """Write the target files; ``redirects`` are (redirect title, target id) pairs. Returns the paths."""
    count = len(titles)
    if not (len(articles) == len(known) == len(vectors) == count):
        raise ValueError("every per-target array needs one row per title")
    keys = list(titles) + [title for title, _ in redirects]
    values = np.concatenate([np.arange(count, dtype=np.int32), np.array([t for _, t in redirects], dtype=np.int32)])
    paths = write_string_table(directory, "titles", keys, values)
    for name, array in (
        ("target_articles", np.asarray(articles, dtype=np.int32)),
        ("target_known", np.asarray(known, dtype=np.int8)),
        ("target_vectors", np.asarray(vectors, dtype=np.float16)),
    ):
        path = directory / f"{name}.npy"
        np.save(path, array, allow_pickle=False)
        paths.append(path)
    return paths


class Targets:
    """Read-only view of the target files."""

    def __init__(self, directory: Path) -> None:
        self.titles = StringTable(directory, "titles")

        def load(name: str) -> np.ndarray:
            return np.load(directory / f"{name}.npy", mmap_mode="r", allow_pickle=False)

        self.articles = load("target_articles")
        self.known = load("target_known")
        self.vectors = load("target_vectors")

    def __len__(self) -> int:
        return len(self.articles)

    def id_of(self, title: str) -> int:
        """Target id of a normalised title, following one redirect hop; -1 when unknown."""
        return self.titles.get(title)

    def ids_of(self, titles: list[str]) -> list[int]:
        """``id_of`` of each of ``titles``, in one lookup call."""
        return self.titles.get_many(titles)

    def title(self, target_id: int) -> str:
        return self.titles.key(target_id)
