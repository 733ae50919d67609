"""Synthetic MediaWiki dumps of any size, recombined from real material (synthetic_material.py).

A dump of ``n`` articles is written page by page; nothing grows with ``n`` (titles, redirects and
popularity are functions of an article's index, not tables), so a million articles take the memory
of one. The output is deterministic for (material, n, seed, parameters).

- Titles: article ``i`` gets the word sequence of ``perm(i)`` in bijective base ``V`` over the real
  title words (``V`` of them, distinct by first-letter-uppercased form), joined by spaces. ``perm`` is
  an affine bijection of ``[0, M)``, so titles are unique and short titles are spread over the dump.
  Redirect ``j`` of article ``t`` takes index ``n + t * MAX_REDIRECTS + j`` in the same space, so
  redirect titles never collide with each other or with article titles.
- Redirects: article ``t`` has a geometric number of redirects (capped at ``MAX_REDIRECTS``) whose
  mean is the source's redirects per article, or the ``redirects_per_article`` given (enwiki: about
  10 M redirects for 7 M articles, 1.4).
- Links: every link slot of a real sentence gets a target drawn by rank from a power law,
  P(rank r) ∝ r^-s with s = ``ZIPF_EXPONENT`` = 0.9: Wikipedia's in-degree distribution follows
  P(k) ∝ k^-γ with γ ≈ 2.1 (Capocci et al. 2006, "Preferential attachment in the growth of social
  networks: the internet encyclopedia Wikipedia"), and a power law of exponent γ in degree is a Zipf
  law of exponent 1/(γ-1) ≈ 0.9 in rank. Ranks are mapped to articles by a second affine bijection.
  With link-once (below) the rank-frequency slope of 1,000 synthetic articles is about -0.8, as in
  ltgwiki (complete, 903 articles); the head is heavier than real: the top target is linked from
  about 2/3 of the articles (ltgwiki's by 120 links in 903 articles). A smaller ``zipf_exponent`` flattens it.
- Articles: a leading template block (at the source's rate), then paragraphs of real sentences, lists
  and headings at the source's rates, until the article reaches a wikitext length drawn from the
  source's; then category lines. Tables and references are not recombined, so an article holds more
  prose than a real one of the same length.
- Anchors: ``[[Title]]``, ``[[Title|alias]]`` or ``[[Alias]]`` (through the redirect), where the
  aliases of a target are its redirect titles, so each target has a fixed set of anchors; piped and
  redirect links take the source's shares. A target already linked in the article is written as
  plain text (link once per article), which gives anchors their unlinked occurrences.
"""

from __future__ import annotations

import bz2
import hashlib
import math
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO
from xml.sax.saxutils import escape, quoteattr

from scoring.synthetic_material import Material
from scoring.titles import normalise_title

__all__ = ["MAX_REDIRECTS", "ZIPF_EXPONENT", "SyntheticWiki", "write_dump"]

ZIPF_EXPONENT = 0.9
MAX_REDIRECTS = 16
_MASK = (1 << 64) - 1
_EPOCH = datetime(2023, 5, 1, tzinfo=timezone.utc)


def _mix(*values: int) -> int:
    """splitmix64 of the values: a cheap, stable per-index hash (not ``hash()``, which varies by process)."""
    x = 0x9E3779B97F4A7C15
    for value in values:
        x = (x ^ value) * 0xBF58476D1CE4E5B9 & _MASK
        x = (x ^ (x >> 27)) * 0x94D049BB133111EB & _MASK
        x ^= x >> 31
    return x


def _affine(size: int, salt: int) -> tuple[int, int]:
    """(a, b) with gcd(a, size) == 1: x -> (a*x + b) % size permutes [0, size)."""
    a = (_mix(salt, 1) % size) | 1
    while math.gcd(a, size) != 1:
        a += 1
    return a, _mix(salt, 2) % size


def _sha1_base36(text: str) -> str:
    number = int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest(), "big")
    digits = ""
    while number:
        number, d = divmod(number, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[d] + digits
    return digits.rjust(31, "0")


class SyntheticWiki:
    """Titles, redirects and link targets of a synthetic wiki of ``n`` articles (pure functions of the
    index), and the text of each article."""

    def __init__(self, material: Material, n: int, *, seed: int = 0, zipf_exponent: float = ZIPF_EXPONENT,
                 redirects_per_article: float | None = None) -> None:
        if n < 1:
            raise ValueError(f"need at least one article, got {n}")
        self.material, self.n, self.seed, self.s = material, n, seed, zipf_exponent
        self.words = material.title_words
        mean = material.redirects_per_article if redirects_per_article is None else redirects_per_article
        self.redirect_q = mean / (1 + mean)  # geometric distribution with this mean
        space, size, power = n * (MAX_REDIRECTS + 1), 0, 1
        while size < space:
            power *= len(self.words)
            size += power
        self.title_space = size
        self.title_perm = _affine(size, _mix(seed, 11))
        self.rank_perm = _affine(n, _mix(seed, 12))

    def _words(self, index: int) -> str:
        a, b = self.title_perm
        x, v, words = (a * index + b) % self.title_space, len(self.words), []
        while True:  # bijective base-v numeration: every x maps to a different word sequence
            words.append(self.words[x % v])
            x = x // v - 1
            if x < 0:
                return " ".join(words)

    def title(self, article: int) -> str:
        return normalise_title(self._words(article))

    def redirect_title(self, article: int, j: int) -> str:
        return normalise_title(self._words(self.n + article * MAX_REDIRECTS + j))

    def redirect_count(self, article: int) -> int:
        if self.redirect_q <= 0:
            return 0
        u = (_mix(self.seed, 13, article) >> 11) / float(1 << 53)
        return min(MAX_REDIRECTS, int(math.log1p(-u) / math.log(self.redirect_q)))

    def popular(self, u: float) -> int:
        """The article at the rank drawn by inverse CDF of the continuous power law on [1, n + 1)."""
        n, s = self.n, self.s
        if abs(s - 1.0) < 1e-9:
            x = (n + 1) ** u
        else:
            x = (1 + u * ((n + 1) ** (1 - s) - 1)) ** (1 / (1 - s))
        rank = min(int(x) - 1, n - 1)
        a, b = self.rank_perm
        return (a * rank + b) % n

    def _link(self, own: int, linked: set[int], rng: random.Random) -> str:
        target = self.popular(rng.random())
        if target == own or target in linked:
            return self.title(target)  # an unlinked mention
        linked.add(target)
        title, redirects, m = self.title(target), self.redirect_count(target), self.material
        u = rng.random()
        if redirects and u < m.redirect_link_share:
            return f"[[{self.redirect_title(target, rng.randrange(redirects))}]]"
        if redirects and u < m.redirect_link_share + m.piped_share:
            return f"[[{title}|{self.redirect_title(target, rng.randrange(redirects))}]]"
        return f"[[{title}]]"

    def _fill(self, pieces: tuple[str, ...], own: int, linked: set[int], rng: random.Random) -> str:
        out = [pieces[0]]
        for piece in pieces[1:]:
            out.append(self._link(own, linked, rng))
            out.append(piece)
        return "".join(out)

    def text(self, article: int) -> str:
        m = self.material
        rng = random.Random(_mix(self.seed, 14, article))
        linked: set[int] = set()
        parts: list[str] = []
        if m.lead_templates and rng.random() < m.lead_template_share:
            parts.append(self._fill(rng.choice(m.lead_templates), article, linked, rng))
        length, goal = len(parts[0]) if parts else 0, rng.choice(m.lengths)
        while length < goal:
            size = rng.choice(m.paragraph_sizes)
            block = [m.sentence_joiner.join(self._fill(rng.choice(m.sentences), article, linked, rng)
                                            for _ in range(size))]
            if m.list_items and rng.random() < m.list_share:
                items = (self._fill(rng.choice(m.list_items), article, linked, rng)
                         for _ in range(rng.choice(m.list_sizes)))
                block.append("\n".join(items))
            if m.headings and rng.random() < m.heading_share:
                block.append(rng.choice(m.headings))
            parts.extend(block)
            length += sum(len(part) + 2 for part in block)
        categories = rng.sample(m.categories, min(rng.choice(m.category_counts), len(m.categories)))
        return "\n\n".join(parts) + ("\n\n" + "\n".join(categories) if categories else "") + "\n"

    def pages(self) -> Iterator[tuple[str, str, str | None]]:
        """(title, text, redirect target or None) of every page: each article followed by its redirects."""
        word = self.material.redirect_word
        for article in range(self.n):
            title = self.title(article)
            yield title, self.text(article), None
            for j in range(self.redirect_count(article)):
                yield self.redirect_title(article, j), f"{word} [[{title}]]", title


def _page_xml(page_id: int, title: str, text: str, redirect: str | None) -> str:
    stamp = (_EPOCH - timedelta(seconds=page_id * 97)).strftime("%Y-%m-%dT%H:%M:%SZ")
    redirect_line = f"    <redirect title={quoteattr(redirect)} />\n" if redirect is not None else ""
    return (
        f"  <page>\n    <title>{escape(title)}</title>\n    <ns>0</ns>\n    <id>{page_id}</id>\n{redirect_line}"
        f"    <revision>\n      <id>{1_000_000 + page_id * 3}</id>\n      <timestamp>{stamp}</timestamp>\n"
        f"      <model>wikitext</model>\n      <format>text/x-wiki</format>\n"
        f'      <text bytes="{len(text.encode("utf-8"))}" xml:space="preserve">{escape(text)}</text>\n'
        f"      <sha1>{_sha1_base36(text)}</sha1>\n    </revision>\n  </page>\n"
    )


@contextmanager
def _output(path: Path) -> Iterator[IO[str]]:
    opener = bz2.open if path.suffix == ".bz2" else open
    with opener(path, "wt", encoding="utf-8") as handle:  # type: ignore[operator]
        yield handle


def write_dump(wiki: SyntheticWiki, path: str | Path) -> tuple[int, int]:
    """Write the dump (bz2 when the name ends in .bz2, else plain XML), one page at a time, with the
    source's header and ``<siteinfo>``. Returns (articles, redirects) written."""
    redirects = 0
    with _output(Path(path)) as out:
        out.write(wiki.material.header + "\n")
        for page_id, (title, text, target) in enumerate(wiki.pages(), start=1):
            redirects += target is not None
            out.write(_page_xml(page_id, title, text, target))
        out.write("</mediawiki>\n")
    return wiki.n, redirects
