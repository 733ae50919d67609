"""Stream pages out of a MediaWiki XML dump (export 0.10/0.11; bz2, xz or plain).

Guarantees:
- ``iter_pages`` is lazy and holds one ``<page>`` element at a time, so memory depends on the largest
  page, never on the size of the dump. Compression is recognised by magic bytes, not by file name.
- A page that cannot be read (XML that is not well-formed, bytes that are not UTF-8, a missing or
  non-numeric id, no revision) becomes a ``MalformedPage`` naming the page id and title as far as they
  can be recovered; it is handed to ``on_error`` and the next page is read. Nothing after it is lost.
- Every page is yielded: all namespaces, redirects included. For a dump with several revisions per
  page the one with the highest revision id is used, whatever its place in the document: the
  stream orders a page's revisions by id too (Redis keeps the highest seen).

Why not mwxml: mwxml drives one expat parser over the whole file, and expat cannot resume after a
not-well-formed byte, so a single broken page ends the iteration of the entire dump (checked with
mwxml 0.3.8). Here the byte stream is cut at ``<page>``/``</page>`` (both can only appear as markup:
``<`` inside text and attribute values is always escaped) and each page is parsed on its own with
``xml.etree.ElementTree``, which makes per-page recovery possible and is about as fast.
"""

from __future__ import annotations

import bz2
import hashlib
import logging
import lzma
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from scoring.titles import normalise_title

__all__ = [
    "DumpPage",
    "MalformedPage",
    "SiteInfo",
    "is_article",
    "iter_pages",
    "read_siteinfo",
    "siteinfo_xml",
    "split_of",
]

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_PAGE_OPEN = b"<page>"
_PAGE_CLOSE = b"</page>"
_SITEINFO_CLOSE = b"</siteinfo>"
# Best-effort recovery of a broken page's identity from its raw bytes (for the error message only).
_RAW_TITLE = re.compile(rb"<title>([^<]{0,512})</title>")
_RAW_ID = re.compile(rb"<id>\s*(\d{1,20})\s*</id>")


@dataclass(frozen=True)
class DumpPage:
    """One page of a dump with its latest revision (highest revision id). ``title`` is exactly as in the dump (with its
    namespace prefix when ``namespace != 0``); ``redirect`` is the normalised target title or None."""

    page_id: int
    namespace: int
    title: str
    redirect: str | None
    rev_id: int
    timestamp: str
    content_model: str
    text: str


@dataclass(frozen=True)
class SiteInfo:
    """The dump's ``<siteinfo>``: ``namespaces`` maps namespace number to its local name ("" for 0);
    ``namespaces.Namespaces.build`` adds MediaWiki's canonical names and the dump's aliases."""

    dbname: str
    language: str
    namespaces: dict[int, str]


class MalformedPage(Exception):
    """A page that could not be read; ``page_id``/``title`` are None when they could not be recovered."""

    def __init__(self, reason: str, *, page_id: int | None = None, title: str | None = None) -> None:
        self.reason = reason
        self.page_id = page_id
        self.title = title
        super().__init__(f"malformed page id={page_id} title={title!r}: {reason}")


def _open(path: str | Path) -> BinaryIO:
    with open(path, "rb") as probe:
        magic = probe.read(6)
    if magic.startswith(b"BZh"):
        return bz2.open(path, "rb")  # type: ignore[return-value]
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _page_chunks(stream: BinaryIO) -> Iterator[tuple[bytes, bytes]]:
    """Yield (kind, raw bytes) per element of interest: (b"siteinfo", header) once, then (b"page",
    b"<page>...</page>") per page, or (b"broken", bytes) for a page whose ``</page>`` never comes.
    Holds at most one page plus one read chunk; each byte is searched a bounded number of times."""
    buf = bytearray()
    pos = 0  # everything before pos is consumed
    searched = 0  # buf[pos:pos + searched] holds no marker after the current "<page>"
    header_done = False
    eof = False
    while not eof:
        chunk = stream.read(_CHUNK)
        eof = not chunk
        del buf[:pos]  # compact once per read, so the cost stays linear in the dump size
        pos = 0
        buf += chunk
        while True:
            if not header_done:
                end = buf.find(_SITEINFO_CLOSE)
                first_page = buf.find(_PAGE_OPEN)
                if end != -1 and (first_page == -1 or end < first_page):
                    pos = end + len(_SITEINFO_CLOSE)
                    yield b"siteinfo", bytes(buf[:pos])
                    header_done = True
                elif first_page != -1 or eof:  # a dump without <siteinfo>
                    header_done = True
                else:
                    break
            start = buf.find(_PAGE_OPEN, pos)
            if start == -1:
                # Keep only a tail that could hold the beginning of a split "<page>" marker.
                pos = max(pos, len(buf) - len(_PAGE_OPEN))
                searched = 0
                break
            pos = start
            from_ = start + max(len(_PAGE_OPEN), searched)
            end = buf.find(_PAGE_CLOSE, from_)
            nested = buf.find(_PAGE_OPEN, from_, end if end != -1 else len(buf))
            if nested != -1:  # a new page starts before this one closed
                yield b"broken", bytes(buf[start:nested])
                pos = nested
                searched = 0
                continue
            if end == -1:
                if eof:
                    yield b"broken", bytes(buf[start:])
                    pos = len(buf)
                # Markers may straddle the chunk border: re-search the last few bytes next time.
                searched = max(len(_PAGE_OPEN), len(buf) - start - len(_PAGE_CLOSE))
                break
            end += len(_PAGE_CLOSE)
            yield b"page", bytes(buf[start:end])
            pos = end
            searched = 0


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse_siteinfo(raw: bytes) -> SiteInfo:
    # The header is "<mediawiki ...><siteinfo>...</siteinfo>"; close the root to make it well-formed.
    root = ET.fromstring(raw + b"</mediawiki>")
    language = next((v for k, v in root.attrib.items() if _local(k) == "lang"), "")
    dbname = ""
    namespaces: dict[int, str] = {}
    for el in root.iter():
        name = _local(el.tag)
        if name == "dbname":
            dbname = el.text or ""
        elif name == "namespace":
            namespaces[int(el.get("key", "0"))] = el.text or ""
    return SiteInfo(dbname=dbname, language=language, namespaces=namespaces)


def read_siteinfo(path: str | Path) -> SiteInfo:
    """Read only the dump header. Raises ValueError if the file has no readable ``<siteinfo>``."""
    with _open(path) as stream:
        for kind, raw in _page_chunks(stream):
            if kind == b"siteinfo":
                try:
                    return _parse_siteinfo(raw)
                except ET.ParseError as exc:
                    raise ValueError(f"{path}: unreadable <siteinfo>: {exc}") from exc
            break
    raise ValueError(f"{path}: no <siteinfo> before the first page")


def siteinfo_xml(path: str | Path) -> bytes:
    """The dump's raw header, from ``<mediawiki ...>`` through ``</siteinfo>``, byte for byte (to copy
    it into another dump). Raises ValueError if there is no ``<siteinfo>`` before the first page."""
    with _open(path) as stream:
        for kind, raw in _page_chunks(stream):
            if kind == b"siteinfo":
                return raw
            break
    raise ValueError(f"{path}: no <siteinfo> before the first page")


def _identity(raw: bytes) -> tuple[int | None, str | None]:
    title_m = _RAW_TITLE.search(raw)
    id_m = _RAW_ID.search(raw)
    title = title_m.group(1).decode("utf-8", "replace") if title_m else None
    return (int(id_m.group(1)) if id_m else None), title


def _child_text(el: ET.Element, name: str) -> str | None:
    found = el.find(name)
    return None if found is None else (found.text or "")


def _parse_page(raw: bytes) -> DumpPage:
    page_id, title = _identity(raw)
    try:
        el = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise MalformedPage(f"not well-formed XML: {exc}", page_id=page_id, title=title) from exc
    title = _child_text(el, "title")
    id_text = _child_text(el, "id")
    if not title:
        raise MalformedPage("missing <title>", page_id=page_id)
    if id_text is None or not id_text.strip().isdigit():
        raise MalformedPage(f"missing or non-numeric page <id> {id_text!r}", title=title)
    page_id = int(id_text)
    ns_text = _child_text(el, "ns") or "0"
    if not ns_text.strip().lstrip("-").isdigit():
        raise MalformedPage(f"non-numeric <ns> {ns_text!r}", page_id=page_id, title=title)
    revisions = el.findall("revision")
    if not revisions:
        raise MalformedPage("no <revision>", page_id=page_id, title=title)
    numbered: list[tuple[int, ET.Element]] = []
    for revision in revisions:
        rev_id_text = _child_text(revision, "id")
        if rev_id_text is None or not rev_id_text.strip().isdigit():
            raise MalformedPage(f"missing or non-numeric revision <id> {rev_id_text!r}", page_id=page_id, title=title)
        numbered.append((int(rev_id_text), revision))
    rev_id, rev = max(numbered, key=lambda pair: pair[0])
    redirect_el = el.find("redirect")
    redirect = None
    if redirect_el is not None:
        redirect = normalise_title(redirect_el.get("title", "")) or None
    return DumpPage(
        page_id=page_id,
        namespace=int(ns_text),
        title=title,
        redirect=redirect,
        rev_id=rev_id,
        timestamp=(_child_text(rev, "timestamp") or "").strip(),
        content_model=(_child_text(rev, "model") or "wikitext").strip(),
        text=_child_text(rev, "text") or "",
    )


def _log_malformed(error: MalformedPage) -> None:
    log.warning("skipping %s", error)


def iter_pages(
    path: str | Path, *, on_error: Callable[[MalformedPage], None] | None = None
) -> Iterator[DumpPage]:
    """Yield every page of the dump at ``path`` in dump order; see the module docstring for the
    memory and error guarantees. ``on_error`` defaults to logging a warning that names the page.
    Raises OSError/EOFError/lzma.LZMAError only for a broken file or compression stream."""
    report = on_error or _log_malformed
    with _open(path) as stream:
        for kind, raw in _page_chunks(stream):
            if kind == b"siteinfo":
                continue
            if kind == b"broken":
                page_id, title = _identity(raw)
                report(MalformedPage("<page> never closed", page_id=page_id, title=title))
                continue
            try:
                yield _parse_page(raw)
            except MalformedPage as exc:
                report(exc)


def is_article(page: DumpPage) -> bool:
    """Main namespace, not a redirect, wikitext content model."""
    return page.namespace == 0 and page.redirect is None and page.content_model == "wikitext"


TEST_PERCENT = 20  # of the articles, in the test split


def split_of(page_id: int) -> Literal["train", "test"]:
    """Deterministic ~80/20 split on a stable hash of the page id (blake2b, not ``hash()``, which
    differs between processes), so train and evaluate agree on every machine."""
    digest = hashlib.blake2b(str(page_id).encode("ascii"), digest_size=8).digest()
    return "test" if int.from_bytes(digest, "big") % 100 < TEST_PERCENT else "train"
