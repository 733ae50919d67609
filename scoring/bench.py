"""Scorer benchmark on real articles: one core, setup outside the timed region, warm-up first.

Measured (pyperf-like): the bundle's load time (median of ``loads`` fresh loads; the first, cold one
is reported apart), then ``recommend`` on every article of the dump (all splits, in dump order), each
timed alone with ``perf_counter`` after ``warmup`` untimed calls, with the time of each stage
(parse, mentions, features, model, place; ``recommend``'s ``stages``) summed over the run. Articles are read into memory
before timing. The process is pinned to one CPU for the run (and XGBoost predicts single-threaded),
so the figures are per core. Resident memory is read from ``/proc/self/status``.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

from tqdm import tqdm

from scoring.bundle import load_bundle
from scoring.dumps import is_article, iter_pages
from scoring.recommend import APPLICATION_VERSION, DEFAULT_DEADLINE_S, recommend
from scoring.titles import normalise_title

__all__ = ["ScoreBench", "bench_score", "rss_mb"]


@dataclass(frozen=True)
class ScoreBench:
    wiki: str
    articles: int
    wikitext_mb: float
    seconds: float
    articles_per_second: float
    mb_per_second: float
    latency_p50_ms: float
    latency_p90_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    slowest_title: str
    bundle_load_cold_ms: float
    bundle_load_ms: float
    rss_before_load_mb: float
    rss_after_load_mb: float
    rss_after_run_mb: float
    candidates: int
    links: int
    incomplete: int
    threshold: float
    max_links: int | None
    stage_ms: dict[str, float] = field(default_factory=dict)  # mean milliseconds per article, per stage
    environment: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def rss_mb() -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return float("nan")


def _percentile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _environment(cpu: int | None) -> dict[str, str]:
    versions = {name: metadata.version(name) for name in ("xgboost", "numpy", "addlink-native")}
    return {
        "addlink_stream": APPLICATION_VERSION,
        "python": platform.python_version(),
        **versions,
        "cpu_model": _cpu_model(),
        "cpu_pinned": str(cpu) if cpu is not None else "no",
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def _pin_one_cpu() -> tuple[int | None, set[int] | None]:
    if not hasattr(os, "sched_setaffinity"):
        return None, None
    allowed = os.sched_getaffinity(0)
    cpu = min(allowed)
    os.sched_setaffinity(0, {cpu})
    return cpu, allowed


def bench_score(
    dump: str | Path,
    models_dir: str | Path,
    wiki: str,
    *,
    threshold: float = 0.6,
    max_links: int | None = 10,
    limit: int | None = None,
    warmup: int = 10,
    loads: int = 5,
    progress: bool = True,
) -> ScoreBench:
    """Benchmark ``recommend`` for ``wiki`` on the articles of ``dump`` (at most ``limit``)."""
    cpu, allowed = _pin_one_cpu()
    try:
        rss_before = rss_mb()
        started = time.perf_counter()
        bundle = load_bundle(models_dir, wiki)
        cold_ms = (time.perf_counter() - started) * 1000
        load_times = []
        for _ in range(loads):
            started = time.perf_counter()
            load_bundle(models_dir, wiki)
            load_times.append((time.perf_counter() - started) * 1000)
        rss_loaded = rss_mb()
        pages = [
            (normalise_title(p.title), p.page_id, p.rev_id, p.text)
            for p in iter_pages(dump)
            if is_article(p)
        ][:limit]
        if not pages:
            raise ValueError(f"{dump}: no articles to benchmark")

        stages: dict[str, float] = {}

        def score(page: tuple[str, int, int, str], stages: dict[str, float] | None = None):
            title, page_id, rev_id, text = page
            return recommend(text, title=title, page_id=page_id, rev_id=rev_id, bundle=bundle,
                             threshold=threshold, max_links=max_links, deadline_s=DEFAULT_DEADLINE_S, stages=stages)

        for page in pages[:warmup]:
            score(page)
        latencies: list[float] = []
        candidates = links = incomplete = 0
        slowest = ("", -1.0)
        for page in tqdm(pages, desc=f"bench score {wiki}", unit=" articles", disable=not progress, mininterval=1):
            started = time.perf_counter()
            result = score(page, stages)
            elapsed = time.perf_counter() - started
            latencies.append(elapsed)
            if elapsed > slowest[1]:
                slowest = (page[0], elapsed)
            candidates += result.candidates
            links += len(result.links)
            incomplete += not result.complete
        total = sum(latencies)
        megabytes = sum(len(p[3].encode("utf-8")) for p in pages) / 1e6
        ordered = sorted(latencies)
        return ScoreBench(
            wiki=wiki,
            articles=len(pages),
            wikitext_mb=round(megabytes, 2),
            seconds=round(total, 3),
            articles_per_second=round(len(pages) / total, 1),
            mb_per_second=round(megabytes / total, 3),
            latency_p50_ms=round(statistics.median(ordered) * 1000, 2),
            latency_p90_ms=round(_percentile(ordered, 0.90) * 1000, 2),
            latency_p99_ms=round(_percentile(ordered, 0.99) * 1000, 2),
            latency_max_ms=round(ordered[-1] * 1000, 2),
            slowest_title=slowest[0],
            bundle_load_cold_ms=round(cold_ms, 1),
            bundle_load_ms=round(statistics.median(load_times), 1) if load_times else round(cold_ms, 1),
            rss_before_load_mb=rss_before,
            rss_after_load_mb=rss_loaded,
            rss_after_run_mb=rss_mb(),
            candidates=candidates,
            links=links,
            incomplete=incomplete,
            threshold=threshold,
            max_links=max_links,
            stage_ms={name: round(seconds * 1000 / len(pages), 3) for name, seconds in stages.items()},
            environment=_environment(cpu),
        )
    finally:
        if allowed is not None:
            os.sched_setaffinity(0, allowed)
