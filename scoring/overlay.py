"""Articles created after training as candidate targets: a small in-memory overlay over a bundle.

The worker learns from the stream which articles were created since the bundle (stream/pipeline/new_titles.py)
and hands their titles here as plain data; ``TitleOverlay.build`` makes each one a candidate for its
own text, as training does with the dump's titles (anchors.py), and ``recommend`` takes the overlay
as an argument.

What the bundle cannot know about a new article, its rows say plainly: never linked (freq,
commonness and link_prob 0), not an article of the dump (target_known 0), no context vector
(relatedness 0); they are title candidates (title_anchor 1). Left out: a title whose text is already
an anchor of the bundle, which covers the bundle's own targets (every title of the dump is an anchor)
and keeps a mention's candidates in one place (the native rows of a bundle anchor take no extra
candidate). Overlay target ``j`` is id ``first_id + j`` in a page's candidate batch, where
``first_id`` is the number of the bundle's targets.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import Jaro

from scoring.anchors import TITLE_SOURCE, Anchors, is_number_anchor, padded_kurtosis, source_flags
from scoring.features import MAX_CANDIDATES, CandidateBatch, FeatureColumns
from scoring.native import AnchorIndex, build_anchor_index
from scoring.titles import normalise_anchor
from scoring.tokenize import word_spans

__all__ = ["TitleOverlay"]


@dataclass(frozen=True)
class TitleOverlay:
    """New titles as candidates for their own text; build with ``TitleOverlay.build``. Building costs one
    FST lookup per title (about 1 s for 100,000 titles); what a row needs beyond that (Jaro, word
    count) is computed only for the mentions a page has."""

    titles: tuple[str, ...]  # overlay target j -> its normalised title
    keys: AnchorIndex  # anchor key -> key number
    targets: tuple[tuple[int, ...], ...]  # key number -> its overlay targets, by title
    language: str

    @classmethod
    def build(cls, titles: Iterable[str], *, anchors: Anchors, language: str) -> TitleOverlay:
        """The overlay of ``titles`` (normalised, ``titles.normalise_title``) over a bundle's ``anchors``;
        number-only anchors are left out, as in training. A title of the bundle's own targets is left out
        by the anchor test: its text is an anchor of the bundle (anchors.py)."""
        by_key: dict[str, list[str]] = {}
        for title in sorted(set(titles) - {""}):
            key = normalise_anchor(title)
            if key and not is_number_anchor(key) and key not in anchors:
                by_key.setdefault(key, []).append(title)
        ordered: list[str] = []
        numbers: list[tuple[int, ...]] = []
        for _, named in sorted(by_key.items()):
            numbers.append(tuple(range(len(ordered), len(ordered) + len(named))))
            ordered.extend(named)
        return cls(tuple(ordered), build_anchor_index(sorted(by_key)), tuple(numbers), language)

    def __len__(self) -> int:
        return len(self.titles)

    def candidates(self, key_number: int, first_id: int) -> list[int]:
        """Target ids (from ``first_id``) of every candidate of overlay anchor ``key_number``."""
        return [first_id + j for j in self.targets[key_number]]

    def ids_of(self, titles: Iterable[str], first_id: int) -> frozenset[int]:
        """Target ids of those of ``titles`` (normalised) that are overlay targets."""
        wanted = set(titles)
        return frozenset(first_id + j for j, title in enumerate(self.titles) if title in wanted)

    def rows(self, keys: Sequence[str], position: np.ndarray, capitalised: np.ndarray, linked: Collection[str],
             first_id: int) -> CandidateBatch:
        """The candidate rows of mentions of overlay anchor ``keys`` (with their relative ``position``
        and ``capitalised``), as ``features.page_candidates`` makes them for the bundle's:
        a mention one of whose targets is in ``linked`` (titles linked on the page, or the page's own)
        is dropped."""
        kept: list[int] = []
        mention: list[int] = []
        target: list[int] = []
        columns: dict[str, list[float]] = {name: [] for name in FeatureColumns.__dataclass_fields__}
        title_anchor, redirect_anchor = source_flags(TITLE_SOURCE)
        for i, key in enumerate(keys):
            number = self.keys.get(key)
            named = self.targets[number]
            if any(self.titles[j] in linked for j in named):
                continue
            ngram = max(len(word_spans(key, self.language)), 1)
            kurtosis = padded_kurtosis([0] * len(named))
            for rank, j in enumerate(named[:MAX_CANDIDATES]):
                mention.append(len(kept))
                target.append(first_id + j)
                values = {
                    "ngram": ngram, "freq": 0, "ambig": len(named), "kurtosis": kurtosis, "relatedness": 0,
                    "jaro": Jaro.similarity(key, self.titles[j].lower()), "commonness": 0, "link_prob": 0,
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
