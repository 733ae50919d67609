"""What a wiki's dump says about the wiki itself, read in one pass before training.

- Namespace aliases. A pages-articles dump's ``<siteinfo>`` names each namespace once; the aliases
  a community still writes ("Εικόνα:" for File on elwiki) are in MediaWiki's MessagesXx.php, which a
  dump does not carry. They are in the dump's own links, though: a prefix ``P`` that is not a known
  namespace or interwiki is an alias of namespace ``N`` when most of the distinct titles written as
  ``[[P:rest]]``/``{{P:rest}}`` are pages of ``N`` in the dump (or, for files, which mostly live on
  Commons, when most of them end in a file extension). Article titles that hold a colon
  ("Star Wars: Episode I") fail that test: their ``rest`` is no page of another namespace.
- Disambiguation templates: templates whose text holds ``__DISAMBIG__`` (what makes MediaWiki's
  Disambiguator set the page's ``disambiguation`` property), and the template redirects to them.
- The page table: every main-namespace title with its page id and whether it is a redirect
  (``scoring.pages``).

Memory: the non-main titles are kept as sorted 64-bit hashes (8 bytes each), the link samples are
bounded per prefix; the page table lists hold the main namespace's titles until they are written.
"""

from __future__ import annotations

import hashlib
import re
import sys
from array import array
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from scoring.dumps import MalformedPage, SiteInfo, iter_pages
from scoring.namespaces import FILE, TEMPLATE, Namespaces
from scoring.titles import is_article_link, namespace_prefix, normalise_title

__all__ = ["SiteScan", "scan_site"]

DISAMBIGUATION_MAGIC_WORD = "__DISAMBIG__"
# [[P:rest...]] and {{P:rest...}}; P cannot hold link syntax, rest stops at a pipe, fragment or close.
_LINK = re.compile(r"\[\[\s*:?\s*([^\[\]{}|#:\n]{1,60}):([^\[\]{}|#\n]{1,255})")
_TRANSCLUSION = re.compile(r"\{\{\s*([^\[\]{}|#:\n]{1,60}):([^\[\]{}|#\n]{1,255})")
# $wgFileExtensions of Wikimedia wikis: what a file title ends with.
_FILE_EXTENSION = re.compile(
    r"\.(?:png|gif|jpe?g|webp|svg|tiff?|xcf|pdf|djvu|mid|ogg|oga|ogv|opus|flac|wav|mp3|webm|mpe?g|stl)$", re.I
)
SAMPLES_PER_PREFIX = 64  # distinct titles kept per unknown prefix
MIN_DISTINCT = 3  # an alias must be used with at least this many distinct titles...
MIN_SHARE = 0.5  # ...and at least this share of them must be pages (files) of one namespace


def _key(namespace: int, rest: str) -> int:
    digest = hashlib.blake2b(f"{namespace}\x00{rest}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


@dataclass
class SiteScan:
    """The pass's results; see the module docstring."""

    namespaces: Namespaces
    disambiguation_templates: tuple[str, ...]
    titles: list[str] = field(repr=False)  # main-namespace titles, normalised, in dump order
    page_ids: array = field(repr=False)  # page id of each title
    redirects: array = field(repr=False)  # 1 when that page is a redirect


@dataclass
class _Collector:
    local: Namespaces
    known: frozenset[str]
    titles: list[str] = field(default_factory=list)
    page_ids: array = field(default_factory=lambda: array("q"))
    redirects: array = field(default_factory=lambda: array("b"))
    pages: array = field(default_factory=lambda: array("Q"))  # _key of every non-main page
    samples: dict[str, dict[str, None]] = field(default_factory=lambda: defaultdict(dict))
    disambiguation: set[str] = field(default_factory=set)
    template_redirects: dict[str, str] = field(default_factory=dict)

    def add(self, page_id: int, namespace: int, title: str, redirect: str | None, text: str) -> None:
        if namespace == 0:
            self.titles.append(normalise_title(title))
            self.page_ids.append(page_id)
            self.redirects.append(redirect is not None)
            if redirect is None:
                self._sample_prefixes(text)
            return
        rest = normalise_title(title.partition(":")[2])
        self.pages.append(_key(namespace, rest))
        if namespace == TEMPLATE:
            if redirect is not None:
                if self.local.of_title(redirect) == TEMPLATE:
                    self.template_redirects[rest] = normalise_title(redirect.partition(":")[2])
            elif DISAMBIGUATION_MAGIC_WORD in text:
                self.disambiguation.add(rest)

    def _sample_prefixes(self, text: str) -> None:
        for pattern in (_LINK, _TRANSCLUSION):
            for match in pattern.finditer(text):
                written, rest = match.group(1), normalise_title(match.group(2))
                if not rest or not is_article_link(f"{written}:x", self.known):
                    continue  # a known namespace, language or interwiki
                prefix = namespace_prefix(written + ":")
                if prefix is None:
                    continue
                seen = self.samples[prefix]
                if len(seen) < SAMPLES_PER_PREFIX:
                    seen[rest] = None

    def aliases(self) -> dict[int, list[str]]:
        pages = np.unique(np.frombuffer(self.pages, dtype=np.uint64))
        numbers = sorted(n for n in self.local.names if n > 0)
        found: dict[int, list[str]] = defaultdict(list)
        for prefix, rests in self.samples.items():
            if len(rests) < MIN_DISTINCT:
                continue
            hits = {n: 0 for n in numbers}
            for rest in rests:
                keys = np.array([_key(n, rest) for n in numbers], dtype=np.uint64)
                positions = np.searchsorted(pages, keys)
                for n, key, position in zip(numbers, keys, positions, strict=True):
                    if position < len(pages) and pages[position] == key:
                        hits[n] += 1
                if _FILE_EXTENSION.search(rest):
                    hits[FILE] = hits.get(FILE, 0) + 1
            number, best = max(hits.items(), key=lambda item: item[1])
            if best >= MIN_DISTINCT and best >= MIN_SHARE * len(rests):
                found[number].append(prefix)
        return found

    def disambiguation_templates(self) -> tuple[str, ...]:
        redirects = {source for source, target in self.template_redirects.items() if target in self.disambiguation}
        return tuple(sorted(self.disambiguation | redirects))


def scan_site(dump: str | Path, site: SiteInfo, *, progress: bool = False) -> SiteScan:
    """Read ``dump`` once (see the module docstring). Malformed pages are skipped, as training does."""
    local = Namespaces.build(site.namespaces)
    collector = _Collector(local=local, known=local.prefixes())
    pages: Iterable = iter_pages(dump, on_error=_skip)
    for page in tqdm(pages, desc="pass 0 site scan", unit=" pages", disable=not progress, mininterval=1):
        collector.add(page.page_id, page.namespace, page.title, page.redirect, page.text)
    return SiteScan(
        namespaces=Namespaces.build(site.namespaces, collector.aliases()),
        disambiguation_templates=collector.disambiguation_templates(),
        titles=collector.titles,
        page_ids=collector.page_ids,
        redirects=collector.redirects,
    )


def _skip(error: MalformedPage) -> None:
    tqdm.write(f"skipping {error}", file=sys.stderr)
