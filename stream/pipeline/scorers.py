"""The worker's scorers: parse and score one article within the page's time budget.

``scoring.recommend`` checks its deadline between dictionary lookups, but mwparserfromhell's tokenizer,
MeCab and the regular expressions of the tokenizer run in C and cannot be interrupted: a table-heavy
page of 600 KB parses for 10 s, and 2 MiB of prose scores for over a minute
(tests/unit/test_pathological_wikitext.py). Only a process can be stopped at any instant, so
:class:`ProcessScorer`, the one ``addlink run`` uses, parses and scores in one child process that is
killed (and replaced) when the budget (``scoring.deadline_seconds``) runs out; the item then fails
with :class:`ScoringTimeout`, which the consume loop sends to the error topic. The child's address
space is capped too (``scoring.memory_limit_mb``), so one page cannot take the worker's memory.

Inside the budget the soft deadline still applies: ``recommend`` stops collecting mentions a little
before the budget ends and scores what it found (``complete=False``), so a long page usually ends with
links rather than an error. :class:`InlineScorer` runs the same steps in the calling thread with only
the soft deadline (the reference the scoring process is tested against).

Articles created after the bundle (stream/pipeline/new_titles.py) reach ``recommend`` as an overlay
(scoring/overlay.py) that each scorer builds once per version of the titles and keeps per wiki. The
titles travel to the scoring process only when their version changed (pickling tens of thousands of
titles per page would cost more than scoring it); a process started since (after a kill) says so
with :class:`OverlayMissing` and gets them with the retried page.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from scoring.bundle import Bundle, BundleCache
from scoring.overlay import TitleOverlay
from scoring.recommend import Recommendation, recommend
from scoring.titles import normalise_title
from scoring.wikitext import ParsedArticle, parse_article
from stream.config import WikiSettings
from stream.core.eligibility import ArticleFacts
from stream.core.events import WorkItem
from stream.pipeline.child_process import CallTimeout, ChildDied, ChildProcess
from stream.pipeline.new_titles import NewTitles

__all__ = ["Budget", "InlineScorer", "OverlayMissing", "PageFacts", "ProcessScorer", "ScoreRequest", "Scorer",
           "ScoringFailed", "ScoringTimeout"]

T = TypeVar("T")

SOFT_DEADLINE_SHARE = 0.8
"""Share of the remaining budget given to ``recommend``'s own deadline, so that it usually returns its
partial result before the process is killed."""


class ScoringTimeout(Exception):
    """The page did not finish within its budget; the scoring process was killed."""


class ScoringFailed(Exception):
    """The scoring process died (memory limit, crash) while handling the page."""


class OverlayMissing(Exception):
    """The scoring process has no overlay of the requested version (it started since): send the titles."""


@dataclass(frozen=True)
class Budget:
    """The time left for one page, on the monotonic clock."""

    until: float

    @classmethod
    def start(cls, seconds: float) -> Budget:
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        return self.until - time.monotonic()


@dataclass(frozen=True)
class ScoreRequest:
    """What ``recommend`` needs besides the text (picklable, sent to the scoring process)."""

    wiki_id: str
    title: str
    page_id: int
    rev_id: int
    threshold: float
    max_links: int | None
    excluded_sections: tuple[str, ...]
    excluded_targets: tuple[str, ...] = ()
    new_titles_version: str = ""  # NewTitles.version of the overlay to score with; "" = none

    @classmethod
    def of(cls, item: WorkItem, wiki: WikiSettings, new_titles: NewTitles | None = None) -> ScoreRequest:
        return cls(wiki_id=item.wiki_id, title=normalise_title(item.page_title), page_id=item.page_id,
                   rev_id=item.rev_id, threshold=wiki.minimum_link_score, max_links=wiki.maximum_links_per_task,
                   excluded_sections=tuple(wiki.excluded_sections), excluded_targets=wiki.excluded_targets,
                   new_titles_version=new_titles.version if new_titles else "")


@dataclass(frozen=True)
class PageFacts:
    """What the rules read from a parsed page (``stream.core.eligibility.ArticleFacts``), without the parse
    tree, which is costly to send between processes."""

    wikitext: str
    templates: tuple[str, ...]
    categories: tuple[str, ...]


class Scorer(Protocol):
    def parse(self, wiki_id: str, wikitext: str, budget: Budget) -> ArticleFacts:
        """What the rules need of the page, templates and categories told apart with the wiki's
        namespace names (its bundle); raises ScoringTimeout when the budget runs out."""

    def score(self, item: WorkItem, wiki: WikiSettings, article: ArticleFacts, budget: Budget,
              new_titles: NewTitles | None = None) -> Recommendation:
        """Recommendations for the page ``parse`` was given last (raises on a model that cannot be loaded);
        ``new_titles``: the wiki's articles created since its bundle, as targets too."""


class _LastParse:
    """The last page parsed, so that scoring it right after the rules does not parse it again."""

    def __init__(self) -> None:
        self._text: str | None = None
        self._bundle: Bundle | None = None
        self._article: ParsedArticle | None = None

    def __call__(self, wikitext: str, bundle: Bundle) -> ParsedArticle:
        """``wikitext`` parsed with the wiki's namespaces and link-trail rule (its bundle's)."""
        if self._article is None or self._text != wikitext or self._bundle is not bundle:
            self._article = None  # free the previous page before parsing the next
            self._article = parse_article(wikitext, bundle.namespaces, bundle.link_trail)
            self._text, self._bundle = wikitext, bundle
        return self._article

    def last(self, bundle: Bundle) -> ParsedArticle:
        """The page parsed last, which must have been parsed with ``bundle``."""
        if self._article is None or self._bundle is not bundle:
            raise RuntimeError("no page parsed with this wiki's bundle in this process")
        return self._article


class _Overlays:
    """Each wiki's overlay, built again when the titles' version or the wiki's bundle changes."""

    def __init__(self) -> None:
        self._by_wiki: dict[str, tuple[str, tuple[str, ...], Bundle, TitleOverlay]] = {}

    def get(self, bundle: Bundle, version: str, titles: tuple[str, ...] | None) -> TitleOverlay | None:
        """The overlay of ``version`` (None when ``version`` is ""); ``titles`` None: the ones already
        held, or OverlayMissing."""
        if not version:
            return None
        held = self._by_wiki.get(bundle.wiki)
        if titles is None:
            if held is None or held[0] != version:
                raise OverlayMissing(version)
            titles = held[1]
        if held is None or held[0] != version or held[2] is not bundle:
            overlay = TitleOverlay.build(titles, anchors=bundle.anchors, language=bundle.language)
            held = self._by_wiki[bundle.wiki] = (version, titles, bundle, overlay)
        return held[3]


def _recommend(bundles: BundleCache, article: ParsedArticle, request: ScoreRequest, soft_deadline_s: float,
               overlay: TitleOverlay | None = None) -> Recommendation:
    return recommend(
        article.wikitext,
        title=request.title,
        page_id=request.page_id,
        rev_id=request.rev_id,
        bundle=bundles.get(request.wiki_id),
        threshold=request.threshold,
        max_links=request.max_links,
        excluded_sections=request.excluded_sections,
        excluded_targets=request.excluded_targets,
        deadline_s=max(soft_deadline_s, 0.0),
        parsed=article,
        overlay=overlay,
    )


class InlineScorer:
    """Parse and score in the calling thread; only ``recommend``'s soft deadline applies."""

    def __init__(self, bundles: BundleCache) -> None:
        self._bundles = bundles
        self._parse = _LastParse()
        self._overlays = _Overlays()

    def parse(self, wiki_id: str, wikitext: str, budget: Budget) -> ArticleFacts:
        return self._parse(wikitext, self._bundles.get(wiki_id))

    def score(self, item: WorkItem, wiki: WikiSettings, article: ArticleFacts, budget: Budget,
              new_titles: NewTitles | None = None) -> Recommendation:
        bundle = self._bundles.get(item.wiki_id)
        parsed = self._parse(article.wikitext, bundle)
        request = ScoreRequest.of(item, wiki, new_titles)
        overlay = self._overlays.get(bundle, request.new_titles_version, new_titles.titles if new_titles else ())
        return _recommend(self._bundles, parsed, request, budget.remaining(), overlay)


# --- the scoring process ------------------------------------------------------------------------------

_child_bundles: BundleCache | None = None
_child_parse_cached = _LastParse()
_child_overlays = _Overlays()


def _child_start(models_dir: str, memory_limit_bytes: int | None) -> None:
    global _child_bundles
    if memory_limit_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit_bytes, memory_limit_bytes))
    _child_bundles = BundleCache(models_dir)


def _child_parse(wiki_id: str, wikitext: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    assert _child_bundles is not None, "scoring process not initialised"
    article = _child_parse_cached(wikitext, _child_bundles.get(wiki_id))
    return article.templates, article.categories


def _child_score(wikitext: str | None, request: ScoreRequest, soft_deadline_s: float,
                 titles: tuple[str, ...] | None = None) -> Recommendation:
    """``wikitext`` None: the page this process parsed last (the text crosses the pipe once per page)."""
    assert _child_bundles is not None, "scoring process not initialised"
    bundle = _child_bundles.get(request.wiki_id)
    overlay = _child_overlays.get(bundle, request.new_titles_version, titles)
    parsed = _child_parse_cached.last(bundle) if wikitext is None else _child_parse_cached(wikitext, bundle)
    return _recommend(_child_bundles, parsed, request, soft_deadline_s, overlay)


class ProcessScorer:
    """Parse and score in one child process, killed when a page's budget runs out (see the module
    docstring). Thread-compatible, not thread-safe: one worker handler calls it at a time."""

    def __init__(self, models_dir: str | Path, *, memory_limit_mb: int | None = None) -> None:
        limit = memory_limit_mb * 1024 * 1024 if memory_limit_mb else None
        self._child = ChildProcess(_child_start, (str(models_dir), limit))
        self._sent: dict[str, str] = {}  # wiki -> the titles' version last sent to the scoring process
        self._parsed: tuple[int, str] | None = None  # (child generation, text) of the last parse

    def parse(self, wiki_id: str, wikitext: str, budget: Budget) -> ArticleFacts:
        self._parsed = None
        templates, categories = self._run(_child_parse, (wiki_id, wikitext), budget, "parsing")
        self._parsed = (self._child.generation, wikitext)
        return PageFacts(wikitext, templates, categories)

    def score(self, item: WorkItem, wiki: WikiSettings, article: ArticleFacts, budget: Budget,
              new_titles: NewTitles | None = None) -> Recommendation:
        return self.recommend(article.wikitext, ScoreRequest.of(item, wiki, new_titles), budget,
                              new_titles.titles if new_titles else ())

    def recommend(self, wikitext: str, request: ScoreRequest, budget: Budget,
                  new_titles: tuple[str, ...] = ()) -> Recommendation:
        """``scoring.recommend`` for ``request`` within ``budget`` (parses unless it just parsed ``wikitext``);
        ``new_titles``: the titles of ``request.new_titles_version``."""
        version = request.new_titles_version

        def attempt(titles: tuple[str, ...] | None) -> Recommendation:
            soft = budget.remaining() * SOFT_DEADLINE_SHARE
            held = self._parsed == (self._child.generation, wikitext)  # the same child parsed this very text
            text = None if held else wikitext
            return self._run(_child_score, (text, request, soft, titles), budget, "scoring")

        try:
            result = attempt(None if self._sent.get(request.wiki_id) == version else new_titles)
        except OverlayMissing:
            result = attempt(new_titles)
        self._sent[request.wiki_id] = version
        return result

    def _run(self, function: Callable[..., T], args: Sequence[Any], budget: Budget, what: str) -> T:
        remaining = budget.remaining()
        if remaining <= 0:
            raise ScoringTimeout(f"no time left for {what} (scoring.deadline_seconds)")
        try:
            return self._child.call(function, args, timeout=remaining)
        except CallTimeout:
            raise ScoringTimeout(f"{what} took longer than the {remaining:.1f} s left of the page's budget "
                                 "(scoring.deadline_seconds); the scoring process was restarted") from None
        except ChildDied as error:
            raise ScoringFailed(f"the scoring process died while {what} (exit code {error.exitcode}); "
                                "scoring.memory_limit_mb may be too low for this page") from None
        except MemoryError:
            raise ScoringFailed(f"{what} exceeded scoring.memory_limit_mb") from None

    def close(self) -> None:
        self._child.close()
