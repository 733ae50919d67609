"""The verb: an article's wikitext and a wiki's bundle in, link recommendations (``gelr_data``) out.

Semantics are mwaddlink v2's (reference mwaddlink.md §2.5–2.10), computed in three steps:

1. ``score_page``: parse once, find every candidate mention in discovery order (mentions.py), drop
   those that can never be suggested whatever else is chosen — the mention is a substring of the
   page title or of an anchor already linked anywhere on the page, or one of its candidates is
   already linked anywhere on the page (after one redirect hop) or is the page itself — then build
   the features of the top 10 candidates of every remaining mention and score them all with ONE
   model call.
2. ``select``: walk the mentions in discovery order exactly as mwaddlink does one at a time: skip a
   mention contained in an anchor suggested earlier or having a candidate suggested earlier; take its
   best candidate (first maximum in frequency order); keep it when its score reaches the threshold
   and it is not an excluded target; stop at ``max_links``. Scores do not depend on earlier
   choices, so this equals mwaddlink's sequential loop.
3. ``place``: keep the first ``max_links`` suggestions the editor can find on the page, with the
   ``match_index`` it needs (mentions.editor_match_indices).
``recommend`` = all three, wrapped in ``Gelr`` with the bundle's dataset checksums.

Articles created after training (``overlay.TitleOverlay``, given by the caller) are candidates for
their own text too: their mentions are found in a second walk over the page, their rows join the
same model call, and they come after the bundle's mentions in step 2 (a new article never takes the
words of a mention the dictionary already knows).

Excluded targets (over-linking control, e.g. every country): titles the wiki never wants suggested,
those the bundle was trained without plus the caller's (``excluded_target_ids``). A mention whose
best candidate is excluded is skipped, not given its second-best candidate: that would be another
meaning of the same words ("Georgia" the state where the text means the country).

Time is bounded: wikitext above ``MAX_WIKITEXT_CHARS`` is refused at once (MediaWiki's own article
size limit), and the deadline is checked while mentions are collected; when it passes, the mentions
found so far are scored and the result says ``complete=False``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from importlib import metadata

import numpy as np

from scoring.bundle import Bundle
from scoring.features import CandidateBatch, join_batches, page_candidates
from scoring.gelr import Gelr, GelrLink, GelrMeta
from scoring.mentions import Mention, editor_match_indices, find_mentions
from scoring.overlay import TitleOverlay
from scoring.titles import is_article_target, joined_anchor_keys, normalise_title
from scoring.wikitext import ParsedArticle, parse_article

__all__ = [
    "DEFAULT_DEADLINE_S",
    "MAX_WIKITEXT_CHARS",
    "ArticleTooLarge",
    "PageBlocks",
    "Recommendation",
    "ScoredPage",
    "excluded_target_ids",
    "page_blocks",
    "place",
    "recommend",
    "score_page",
    "select",
]

DEFAULT_DEADLINE_S = 5.0
# MediaWiki's default $wgMaxArticleSize is 2048 KiB; no real revision is longer (in characters, at most).
MAX_WIKITEXT_CHARS = 2048 * 1024

class ArticleTooLarge(ValueError):
    """The wikitext exceeds ``MAX_WIKITEXT_CHARS``; refused without parsing."""


@dataclass(frozen=True)
class ScoredPage:
    """Every candidate of a page with its score, before selection (see ``select``)."""

    mentions: tuple[Mention, ...]
    anchor_index: tuple[int, ...]  # each mention's index in the bundle's anchor dictionary, or in the overlay's
    batch: CandidateBatch
    scores: np.ndarray  # float32, one per row of ``batch``
    complete: bool  # False when the deadline stopped mention collection early
    overlay: TitleOverlay | None = None
    overlay_from: int = 0  # mentions from this one on are the overlay's (when there is one)

    def candidate_ids(self, bundle: Bundle, mention: int) -> list[int]:
        """Target ids of every candidate of a mention's anchor (not only those scored)."""
        if self.overlay is not None and mention >= self.overlay_from:
            return self.overlay.candidates(self.anchor_index[mention], len(bundle.targets))
        return bundle.anchors.candidate_targets(self.anchor_index[mention])

    def title(self, bundle: Bundle, target: int) -> str:
        first = len(bundle.targets)
        if self.overlay is not None and target >= first:
            return self.overlay.titles[target - first]
        return bundle.targets.title(target)


@dataclass(frozen=True)
class Recommendation:
    """What ``recommend`` returns: the ``gelr_data`` object plus how the page was scored."""

    gelr: Gelr
    complete: bool
    mentions: int  # mentions whose candidates were scored
    candidates: int  # candidate rows scored (one model call)

    @property
    def links(self) -> tuple[GelrLink, ...]:
        return self.gelr.links


def _application_version() -> str:
    try:
        return metadata.version("addlink-stream")
    except metadata.PackageNotFoundError:
        return "unknown"


APPLICATION_VERSION = _application_version()


Stages = MutableMapping[str, float]


class _Laps:
    """Adds the seconds since the previous lap to ``stages[name]``; does nothing without ``stages``."""

    def __init__(self, stages: Stages | None) -> None:
        self._stages = stages
        self._last = time.perf_counter()

    def restart(self) -> None:
        self._last = time.perf_counter()

    def __call__(self, name: str) -> None:
        if self._stages is not None:
            now = time.perf_counter()
            self._stages[name] = self._stages.get(name, 0.0) + now - self._last
            self._last = now


class _Deadline:
    def __init__(self, seconds: float | None, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._at = None if seconds is None else clock() + seconds

    def passed(self) -> bool:
        return self._at is not None and self._clock() >= self._at


@dataclass(frozen=True)
class PageBlocks:
    """What a page's own links rule out, whatever the model says (mwaddlink §2.5 rules 2 and 3)."""

    anchors: str  # NUL-joined anchor keys of every article link on the page, templates included, and the title
    targets: frozenset[int]  # target ids linked anywhere on the page (one redirect hop), and the page itself
    titles: frozenset[str]  # the same as titles, unresolved: for targets the bundle does not know (overlay)

    def blocks_key(self, key: str) -> bool:
        """True when ``key`` is a substring of the title or of an anchor linked on the page."""
        return key in self.anchors


def page_blocks(article: ParsedArticle, title: str, bundle: Bundle) -> PageBlocks:
    """The rules of a page titled ``title`` whose links are ``article.links``."""
    prefixes = bundle.namespace_prefixes
    # Each distinct target is classified once: pages link the same titles many times. Each link's target
    # is read once (a native link makes a new str per read).
    links = article.links
    link_targets = [link.target for link in links]
    linked = {target for target in set(link_targets) if is_article_target(target, prefixes)}
    linked_texts = (link.text for link, target in zip(links, link_targets) if target in linked)
    anchors = joined_anchor_keys([title, *linked_texts])
    titles = linked | {normalise_title(title)}
    targets = {target for target in bundle.targets.ids_of(list(titles)) if target >= 0}
    return PageBlocks(anchors, frozenset(targets), frozenset(titles))


def excluded_target_ids(bundle: Bundle, titles: Iterable[str] = (), overlay: TitleOverlay | None = None) -> frozenset[int]:
    """Target ids never to suggest: the bundle's ``manifest.excluded_targets`` and ``titles``, normalised
    like link targets. A target is resolved one redirect hop (``Targets.id_of``), as links are in
    training: excluding a title excludes every redirect to it, and naming a redirect excludes its
    target. Titles the bundle does not know are ignored (it can never suggest them), unless they are
    targets of the ``overlay``."""
    normalised = [normalise_title(title) for title in (*bundle.manifest.excluded_targets, *titles)]
    ids = {target for target in map(bundle.targets.id_of, normalised) if target >= 0}
    if overlay is not None:
        ids |= overlay.ids_of(normalised, len(bundle.targets))
    return frozenset(ids)


def score_page(
    article: ParsedArticle,
    *,
    title: str,
    bundle: Bundle,
    excluded_sections: Sequence[str] = (),
    deadline_s: float | None = DEFAULT_DEADLINE_S,
    clock: Callable[[], float] = time.monotonic,
    stages: Stages | None = None,
    overlay: TitleOverlay | None = None,
    blocks: PageBlocks | None = None,
) -> ScoredPage:
    """Step 1 of the module docstring. ``deadline_s`` counts from the call (None = no limit); it is
    checked before each mention is taken; the page's native n-gram walk (one call, a few FST steps per
    n-gram) runs before the first check.
    ``stages`` (optional) gets the seconds spent in "mentions", "features" and "model" added.
    ``overlay``: articles created after training, scored after the bundle's mentions. ``blocks``: the
    page rules to apply, when they are not those of ``article`` itself (the sentence backtest's)."""
    lap = _Laps(stages)
    deadline = _Deadline(deadline_s, clock)
    blocks = page_blocks(article, title, bundle) if blocks is None else blocks
    anchors = bundle.anchors
    candidates: list[Mention] = []
    indices: list[int] = []
    complete = not deadline.passed()
    found = find_mentions(
        article, language=bundle.language, title=title, excluded_sections=excluded_sections, anchors=anchors.keys
    )
    for mention in found if complete else ():
        if deadline.passed():
            complete = False
            break
        if blocks.blocks_key(mention.key):
            continue
        candidates.append(mention)
        indices.append(anchors.index(mention.key))
    lap("mentions")
    length = max(len(article.wikitext), 1)
    batch = page_candidates(
        bundle.feature_tables,
        bundle.targets,
        bundle.vectoriser.page_vector(article.wikitext),
        np.array(indices, dtype=np.int64),
        np.array([m.wikitext_offset / length for m in candidates], dtype=np.float32),
        np.array([m.text[:1].isupper() for m in candidates], dtype=np.float32),
        linked=blocks.targets,
    )
    mentions = [candidates[i] for i in batch.kept.tolist()]
    anchor_index = [indices[i] for i in batch.kept.tolist()]
    overlay_from = len(mentions)
    if overlay is not None and len(overlay) and complete:
        fresh, numbers, extra = _overlay_candidates(article, title, bundle, overlay, blocks, excluded_sections)
        batch = join_batches(batch, extra, len(candidates))
        mentions += [fresh[i] for i in extra.kept.tolist()]
        anchor_index += [numbers[i] for i in extra.kept.tolist()]
    lap("features")
    scores = bundle.model.predict(batch.features)
    lap("model")
    return ScoredPage(tuple(mentions), tuple(anchor_index), batch, scores, complete, overlay, overlay_from)


def _overlay_candidates(article: ParsedArticle, title: str, bundle: Bundle, overlay: TitleOverlay, blocks: PageBlocks,
                        excluded_sections: Sequence[str]) -> tuple[list[Mention], list[int], CandidateBatch]:
    """The overlay's mentions (the same rules as the bundle's: not inside the title or a linked anchor,
    no candidate linked on the page or the page itself), their overlay anchor numbers and their rows."""
    found = [m for m in find_mentions(article, language=bundle.language, title=title,
                                      excluded_sections=excluded_sections, anchors=overlay.keys)
             if not blocks.blocks_key(m.key)]
    numbers = [overlay.keys.get(m.key) for m in found]
    length = max(len(article.wikitext), 1)
    batch = overlay.rows([m.key for m in found], np.array([m.wikitext_offset / length for m in found], dtype=np.float32),
                         np.array([m.text[:1].isupper() for m in found], dtype=np.float32), blocks.titles,
                         len(bundle.targets))
    return found, numbers, batch


def select(
    scored: ScoredPage,
    bundle: Bundle,
    *,
    threshold: float,
    max_links: int | None,
    excluded: frozenset[int] = frozenset(),
) -> list[GelrLink]:
    """Step 2 of the module docstring: the links mwaddlink would return, in discovery order, none to an
    ``excluded`` target id (``excluded_target_ids``)."""
    batch, scores = scored.batch, scored.scores
    # Rows of one mention are contiguous; starts[i]..starts[i+1] are mention i's candidates.
    starts = np.searchsorted(batch.mention, np.arange(len(scored.mentions) + 1)).tolist()
    # Python floats and ints, read many times below: exact copies of the float32 scores and the targets.
    values = scores.tolist()
    targets = batch.target.tolist()
    # Accepted anchors joined by NUL (never inside a key): a key occurs in this string only inside one of
    # them, so one C-level search replaces a Python loop over every accepted anchor.
    accepted_anchors = ""
    accepted_targets: set[int] = set()
    links: list[GelrLink] = []
    for i, mention in enumerate(scored.mentions):
        if max_links is not None and len(links) >= max_links:
            break
        start, end = starts[i], starts[i + 1]
        if start == end:
            continue
        if accepted_anchors and mention.key in accepted_anchors:
            continue
        if accepted_targets and not accepted_targets.isdisjoint(scored.candidate_ids(bundle, i)):
            continue
        # The first maximum, as np.argmax would take (the model's probabilities are never NaN).
        best = max(range(start, end), key=values.__getitem__)
        score = values[best]
        target = targets[best]
        if score < threshold or target in excluded:
            continue
        accepted_anchors += f"\0{mention.key}"
        accepted_targets.add(target)
        links.append(
            GelrLink(
                link_text=mention.text,
                link_target=scored.title(bundle, target),
                match_index=mention.match_index,
                wikitext_offset=mention.wikitext_offset,
                score=score,
                context_before=mention.context_before,
                context_after=mention.context_after,
                link_index=len(links),
            )
        )
    return links


def place(article: ParsedArticle, links: Sequence[GelrLink], *, max_links: int | None) -> list[GelrLink]:
    """Step 3: the first ``max_links`` of ``links`` (discovery order) that GrowthExperiments' editor can
    find, with the ``match_index`` it needs when all of them are searched together
    (``mentions.editor_match_indices``). A link the editor cannot reach is dropped and the next one
    takes its place; ``link_index`` is renumbered."""
    kept: list[tuple[GelrLink, int]] = []
    pending = list(links)
    while pending and (max_links is None or len(kept) < max_links):
        room = len(pending) if max_links is None else max_links - len(kept)
        trial = [link for link, _ in kept] + pending[:room]
        pending = pending[room:]
        indices = editor_match_indices(article, [(l.link_text, l.wikitext_offset) for l in trial])
        kept = [(link, index) for link, index in zip(trial, indices) if index is not None]
    return [
        link.model_copy(update={"match_index": index, "link_index": position})
        for position, (link, index) in enumerate(kept)
    ]


def recommend(
    wikitext: str,
    *,
    title: str,
    page_id: int,
    rev_id: int,
    bundle: Bundle,
    threshold: float = 0.6,
    max_links: int | None = 10,
    excluded_sections: Sequence[str] = (),
    excluded_targets: Iterable[str] = (),
    deadline_s: float | None = DEFAULT_DEADLINE_S,
    task_timestamp: int | None = None,
    parsed: ParsedArticle | None = None,
    clock: Callable[[], float] = time.monotonic,
    stages: Stages | None = None,
    overlay: TitleOverlay | None = None,
) -> Recommendation:
    """Recommend links for one revision of an article.

    Defaults are GrowthExperiments' (minimumLinkScore 0.6, maximumLinksPerTask 10); ``max_links=None``
    means no limit. ``excluded_sections`` are heading texts (case-folded exact match), ``"%LEAD%"`` for
    the lead. ``excluded_targets``: titles never to suggest, on top of the bundle's own (see the module
    docstring). ``task_timestamp`` defaults to now (Unix seconds). ``parsed``: the caller's own
    ``parse_article(wikitext, bundle.namespaces, bundle.link_trail)``, to save parsing twice. Raises
    ``ArticleTooLarge``, or ValueError for a threshold outside [0, 1], ``max_links`` < 1 or ``parsed`` of
    other text. ``page_id``/``rev_id``
    name the revision in errors; they do not change the result. ``stages`` (optional, for benchmarks)
    gets the seconds spent per stage added: "parse", "mentions", "features", "model", "place".
    ``overlay``: articles created after training as targets too (see the module docstring)."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be within [0, 1], got {threshold}")
    if max_links is not None and max_links < 1:
        raise ValueError(f"max_links must be at least 1 (or None for no limit), got {max_links}")
    if len(wikitext) > MAX_WIKITEXT_CHARS:
        raise ArticleTooLarge(
            f"page {page_id} revision {rev_id} ({title!r}): wikitext of {len(wikitext)} characters exceeds "
            f"{MAX_WIKITEXT_CHARS}"
        )
    if parsed is not None and parsed.wikitext != wikitext:
        raise ValueError(f"page {page_id} revision {rev_id}: parsed article is not of the given wikitext")
    started = clock()
    lap = _Laps(stages)
    article = parsed or parse_article(wikitext, bundle.namespaces, bundle.link_trail)
    lap("parse")
    remaining = None if deadline_s is None else deadline_s - (clock() - started)
    scored = score_page(
        article, title=title, bundle=bundle, excluded_sections=excluded_sections, deadline_s=remaining, clock=clock,
        stages=stages, overlay=overlay,
    )
    lap.restart()
    excluded = excluded_target_ids(bundle, excluded_targets, overlay)
    links = place(
        article, select(scored, bundle, threshold=threshold, max_links=None, excluded=excluded), max_links=max_links
    )
    lap("place")
    meta = GelrMeta(
        application_version=APPLICATION_VERSION,
        dataset_checksums=bundle.dataset_checksums,
        task_timestamp=int(time.time()) if task_timestamp is None else task_timestamp,
    )
    return Recommendation(
        gelr=Gelr(links=tuple(links), meta=meta),
        complete=scored.complete,
        mentions=len(scored.mentions),
        candidates=len(scored.scores),
    )
