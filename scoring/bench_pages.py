"""Page-table benchmark on a real dump: size on disk per title, open time, lookup latency, and the
size the same format takes for ``scale_to`` titles (enwiki: about 17 million main-namespace titles).

The projection is arithmetic on the format (scoring/pages.py, scoring/stringtable.py), not a
measurement: the dump's mean UTF-8 title length times ``scale_to``, plus 8 bytes of offset, 4 of page
id and 1 redirect flag per title, plus 8 bytes per open-addressing slot (the power of two at least
twice the title count). Everything else here is measured on the dump's own titles.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from scoring.dumps import read_siteinfo
from scoring.pages import PAGE_FILES, Pages, write_pages
from scoring.site_scan import scan_site
from scoring.stringtable import slot_count

__all__ = ["PagesBench", "bench_pages"]

ENWIKI_TITLES = 17_000_000


@dataclass(frozen=True)
class PagesBench:
    titles: int
    bytes_on_disk: int
    bytes_per_title: float
    mean_title_bytes: float
    open_ms: float
    hit_lookup_us: float
    miss_lookup_us: float
    scale_to: int
    projected_bytes: int

    def as_dict(self) -> dict:
        return asdict(self)


def projected_size(titles: int, mean_title_bytes: float) -> int:
    """Bytes of a page table of ``titles`` titles whose UTF-8 length averages ``mean_title_bytes``."""
    return int(titles * (mean_title_bytes + 8 + 4 + 1) + 8 + slot_count(titles) * 8)


def bench_pages(dump: str | Path, *, scale_to: int = ENWIKI_TITLES) -> PagesBench:
    scan = scan_site(dump, read_siteinfo(dump))
    titles = scan.titles
    with tempfile.TemporaryDirectory(prefix="addlink-bench-pages-") as tmp:
        directory = Path(tmp)
        write_pages(directory, titles, scan.page_ids, scan.redirects)
        size = sum((directory / name).stat().st_size for name in PAGE_FILES)
        started = time.perf_counter()
        pages = Pages(directory)
        open_ms = (time.perf_counter() - started) * 1000
        hits = _per_call_us(pages.page_id, titles)
        misses = _per_call_us(pages.page_id, [title + " (x)" for title in titles])
    mean = statistics.fmean(len(t.encode("utf-8")) for t in titles) if titles else 0.0
    return PagesBench(
        titles=len(pages),
        bytes_on_disk=size,
        bytes_per_title=round(size / max(len(pages), 1), 1),
        mean_title_bytes=round(mean, 1),
        open_ms=round(open_ms, 3),
        hit_lookup_us=hits,
        miss_lookup_us=misses,
        scale_to=scale_to,
        projected_bytes=projected_size(scale_to, mean),
    )


def _per_call_us(lookup: Callable[[str], object], keys: list[str], rounds: int = 5) -> float:
    """Median over ``rounds`` of the mean time of one lookup over all ``keys``, in microseconds."""
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        for key in keys:
            lookup(key)
        timings.append((time.perf_counter() - started) / max(len(keys), 1))
    return round(statistics.median(timings) * 1e6, 2)
