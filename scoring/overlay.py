"""Articles created after training as candidate targets: a small in-memory overlay over a bundle.

The worker learns from the stream which articles were created since the bundle (stream/pipeline/new_titles.py)
and hands their titles here as plain data; ``TitleOverlay.build`` makes each one a candidate for its
own text, as training does with the dump's titles (anchors.py), and ``recommend`` takes the overlay
as an argument.

What the bundle cannot know about a new article, its rows say plainly: never linked (freq,
commonness and link_prob 0), not an article of the dump (target_known 0), no context vector
(relatedness 0); they are title candidates (title_anchor 1). Left out: a title the bundle already
has as a target (the bundle knows it better), and a title whose text is already an anchor of the
bundle (its mentions get the bundle's candidates: the native rows of a bundle anchor take no extra
candidate). Overlay target ``j`` is id ``first_id + j`` in a page's candidate batch, where
``first_id`` is the number of the bundle's targets.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import Jaro

from scoring.anchors import TITLE_SOURCE, Anchors, is_number_anchor, padded_kurtosis, source_flags
from scoring.features import MAX_CANDIDATES, CandidateBatch, FeatureColumns
from scoring.native import AnchorIndex, build_anchor_index
from scoring.targets import Targets
from scoring.titles import normalise_anchor, normalise_title
from scoring.tokenize import word_spans

__all__ = ["TitleOverlay"]


@dataclass(frozen=True)
class _Key:
    """One overlay anchor: its candidates (overlay target numbers, by title) and their fixed numbers."""

    targets: tuple[int, ...]
    ngram: int
    kurtosis: float
    jaro: tuple[float, ...]


@dataclass(frozen=True)
class TitleOverlay:
    """New titles as candidates for their own text; build with ``TitleOverlay.build``."""

    titles: tuple[str, ...]  # overlay target j -> its normalised title
    keys: AnchorIndex  # anchor key -> key number
    entries: tuple[_Key, ...]  # key number -> its candidates

    @classmethod
    def build(cls, titles: Iterable[str], *, anchors: Anchors, targets: Targets, language: str) -> TitleOverlay:
        """The overlay of ``titles`` (any form, normalised here) over a bundle's ``anchors`` and ``targets``;
        number-only anchors are left out, as in training."""
        by_key: dict[str, list[str]] = {}
        for title in sorted({normalise_title(t) for t in titles} - {""}):
            key = normalise_anchor(title)
            if key and not is_number_anchor(key) and key not in anchors and targets.id_of(title) < 0:
                by_key.setdefault(key, []).append(title)
        ordered: list[str] = []
        entries: list[_Key] = []
        for key, named in sorted(by_key.items()):
            first = len(ordered)
            ordered.extend(named)
            entries.append(_Key(
                targets=tuple(range(first, len(ordered))),
                ngram=max(len(word_spans(key, language)), 1),
                kurtosis=padded_kurtosis([0] * len(named)),
                jaro=tuple(Jaro.similarity(key, title.lower()) for title in named),
            ))
        return cls(tuple(ordered), build_anchor_index(sorted(by_key)), tuple(entries))

    def __len__(self) -> int:
        return len(self.titles)

    def candidates(self, key_number: int, first_id: int) -> list[int]:
        """Target ids (from ``first_id``) of every candidate of overlay anchor ``key_number``."""
        return [first_id + j for j in self.entries[key_number].targets]

    def ids_of(self, titles: Iterable[str], first_id: int) -> frozenset[int]:
        """Target ids of those of ``titles`` (normalised) that are overlay targets."""
        wanted = set(titles)
        return frozenset(first_id + j for j, title in enumerate(self.titles) if title in wanted)

    def rows(self, key_numbers: Collection[int], position: np.ndarray, capitalised: np.ndarray,
             linked: Collection[str], first_id: int) -> CandidateBatch:
        """The candidate rows of mentions of overlay anchors ``key_numbers`` (with their relative
        ``position`` and ``capitalised``), as ``features.page_candidates`` makes them for the bundle's:
        a mention one of whose targets is in ``linked`` (titles linked on the page, or the page's own)
        is dropped."""
        kept: list[int] = []
        mention: list[int] = []
        target: list[int] = []
        columns: dict[str, list[float]] = {name: [] for name in FeatureColumns.__dataclass_fields__}
        title_anchor, redirect_anchor = source_flags(TITLE_SOURCE)
        for i, number in enumerate(key_numbers):
            entry = self.entries[number]
            if any(self.titles[j] in linked for j in entry.targets):
                continue
            for rank, j in enumerate(entry.targets[:MAX_CANDIDATES]):
                mention.append(len(kept))
                target.append(first_id + j)
                values = {
                    "ngram": entry.ngram, "freq": 0, "ambig": len(entry.targets), "kurtosis": entry.kurtosis,
                    "relatedness": 0, "jaro": entry.jaro[rank], "commonness": 0, "link_prob": 0,
                    "target_articles": 0, "target_known": 0, "rank": rank, "position": float(position[i]),
                    "capitalised": float(capitalised[i]), "title_anchor": title_anchor,
                    "redirect_anchor": redirect_anchor,
                }
                for name, value in values.items():
                    columns[name].append(value)
            kept.append(i)
        features = FeatureColumns(**{name: np.array(values, dtype=np.float32) for name, values in columns.items()})
        return CandidateBatch(kept=np.array(kept, dtype=np.int32), mention=np.array(mention, dtype=np.int32),
                              target=np.array(target, dtype=np.int32), features=features.matrix())
