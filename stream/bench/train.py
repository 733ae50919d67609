"""`addlink bench train`: speed and memory of `addlink train` on a dump, and cost of its bundle.

Measurements:
1. `addlink train --force --models DIR` runs in a child process (so nothing of this process is
   counted); its peak RSS is the child's ``ru_maxrss`` from ``os.wait4``. Phase boundaries are the
   moments the child's progress bars first appear on its stderr ("pass 1/2", "pass 2/2",
   "backtest"), so the dump pass (pass 1: parse every page, spool the training articles) is timed
   without touching training code. articles/s = the dump's ns-0 articles (manifest: train + test) /
   seconds; "overall" divides by the whole wall time, backtest included. The child's CPU seconds
   (user + system, from /proc/PID/stat at each boundary and ``os.wait4`` at the end) are reported
   too: on a shared machine wall time measures the neighbours, CPU time the code.
2. The bundle's size per artifact is read from its manifest and checked against the files on disk.
3. Load time: ``load_bundle`` on the published bundle, the first (cold) run and the best of
   ``--loads``. The RSS of one opened bundle is this process's VmRSS growth over the first load.
4. ``--bundles K``: K copies of the bundle under different wiki ids (artifacts hard-linked, manifest
   rewritten with the id) opened at once and kept; RSS growth per bundle. Hard links share the page
   cache, so this counts what opening costs a worker (Python objects, the booster, mapped pages it
   touches), not the disk or page cache K distinct bundles would take.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from scoring.bench import rss_mb
from scoring.bundle import MANIFEST, Bundle, BundleManifest, load_bundle
from stream.bench import procfs
from stream.errors import AddlinkError

__all__ = ["TrainBench", "add_arguments", "bench_train", "main"]

_PHASES = {b"pass 0": "pass0", b"pass 1/2": "pass1", b"pass 2/2": "pass2", b"backtest": "backtest"}


@dataclass(frozen=True)
class TrainBench:
    wiki: str
    dump: str
    dump_mb: float
    pages: int
    articles: int
    train_articles: int
    wall_seconds: float
    site_scan_seconds: float  # pass 0: namespaces, disambiguation templates, page table (a read of its own)
    dump_pass_seconds: float
    contexts_and_fit_seconds: float  # pass 2, training rows, XGBoost, writing the bundle
    backtest_seconds: float
    dump_pass_articles_per_second: float
    overall_articles_per_second: float
    cpu_seconds: float
    dump_pass_cpu_seconds: float
    dump_pass_articles_per_cpu_second: float
    peak_rss_mb: float
    targets: int
    anchors: int
    bundle_mb: float
    artifacts_bytes: dict[str, int]
    bundle_load_cold_ms: float
    bundle_load_ms: float
    bundle_rss_mb: float
    bundles: int = 0
    bundles_rss_mb: float = 0.0  # RSS growth with ``bundles`` opened at once
    rss_per_bundle_mb: float = 0.0
    exit_code: int = 0
    phases_seen: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def rate(count: int, seconds: float) -> float:
    """``count / seconds`` to three significant digits (a fixed number of decimals loses a slow run's rate)."""
    return float(f"{count / seconds:.3g}") if seconds > 0 else 0.0


def _watch_phases(stream, pid: int, started: float, seen: dict[str, tuple[float, float]]) -> None:
    """Read the child's stderr to its end, noting (wall, CPU) seconds when each progress bar first appears."""
    tail = b""
    for chunk in iter(lambda: stream.read1(1 << 16), b""):
        window = tail + chunk
        now = time.monotonic() - started
        for marker, name in _PHASES.items():
            if name not in seen and marker in window:
                try:
                    seen[name] = (now, procfs.cpu_seconds(pid))
                except OSError:  # the child is gone already (never seen: bars come well before exit)
                    seen[name] = (now, math.nan)
        tail = window[-16:]


@dataclass(frozen=True)
class _Run:
    wall: float
    cpu: float
    peak_rss_mb: float
    phases: dict[str, tuple[float, float]]  # phase -> (wall, CPU) seconds when it started
    exit_code: int
    output: str

    def started(self, phase: str) -> tuple[float, float]:
        """(wall, CPU) seconds when ``phase`` started; the end of the run if it never did."""
        return self.phases.get(phase, (self.wall, self.cpu))


def _run_train(dump: Path, wiki: str, models: Path) -> _Run:
    """One training run in a child process."""
    command = [sys.executable, "-m", "stream.cli", "train", "--wiki", wiki, "--dump", str(dump),
               "--models", str(models), "--force"]
    seen: dict[str, tuple[float, float]] = {}
    started = time.monotonic()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE)
        watcher = threading.Thread(target=_watch_phases, args=(child.stderr, child.pid, started, seen), daemon=True)
        watcher.start()
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.monotonic() - started
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: keep Popen from waiting again
        watcher.join()
        child.stderr.close()
        out.seek(0)
        output = out.read().decode("utf-8", "replace")
    cpu = usage.ru_utime + usage.ru_stime
    return _Run(wall=wall, cpu=cpu, peak_rss_mb=usage.ru_maxrss / 1024, phases=seen, exit_code=child.returncode,
                output=output)


def _timed(action: Callable[[], Bundle]) -> tuple[float, Bundle]:
    begun = time.perf_counter()
    bundle = action()
    return (time.perf_counter() - begun) * 1000, bundle


def _copies(version: Path, manifest: BundleManifest, root: Path, count: int) -> list[str]:
    """``count`` copies of the bundle in ``root`` under wiki ids ``bench<i>``; returns the ids."""
    ids = []
    for i in range(count):
        wiki = f"bench{i}"
        directory = root / f".{wiki}-copy"
        directory.mkdir()
        for name in manifest.artifacts:
            os.link(version / name, directory / name)
        (directory / MANIFEST).write_text(manifest.model_copy(update={"wiki": wiki}).model_dump_json())
        (root / wiki).symlink_to(directory.name)
        ids.append(wiki)
    return ids


def bench_train(dump: Path, wiki: str, models: Path, *, loads: int = 5, bundles: int = 0) -> TrainBench:
    """Train into ``models`` (which must not hold ``wiki`` yet) and measure; see the module docstring.
    Raises AddlinkError when training fails."""
    if (models / wiki).exists():
        raise AddlinkError(f"{models / wiki} exists; bench train needs a models directory without {wiki}")
    models.mkdir(parents=True, exist_ok=True)
    run = _run_train(dump, wiki, models)
    if run.exit_code != 0 or not (models / wiki).exists():
        raise AddlinkError(f"addlink train exited with {run.exit_code}:\n{run.output[-2000:]}")
    version = (models / wiki).resolve()
    manifest = BundleManifest.model_validate_json((version / MANIFEST).read_bytes())
    sizes = {name: (version / name).stat().st_size for name in sorted(manifest.artifacts)}
    if any(sizes[name] != manifest.artifacts[name].bytes for name in sizes):
        raise AddlinkError(f"{version}: files on disk differ from the manifest")

    before = rss_mb()
    cold_ms, first = _timed(lambda: load_bundle(models, wiki))
    one_bundle = rss_mb() - before
    best_ms = min([cold_ms] + [_timed(lambda: load_bundle(models, wiki))[0] for _ in range(loads - 1)])
    many_mb = 0.0
    if bundles:
        with tempfile.TemporaryDirectory(dir=models, prefix=".bench-copies-") as root:
            ids = _copies(version, manifest, Path(root), bundles)
            start = rss_mb()
            opened = [load_bundle(root, i) for i in ids]
            many_mb = rss_mb() - start
            del opened
    del first

    training = manifest.training
    articles = int(training["train_articles"]) + int(training["test_articles"])
    (pass1_at, pass1_cpu_at), (pass2_at, pass2_cpu_at) = run.phases.get("pass1", (0.0, 0.0)), run.started("pass2")
    backtest_at = run.started("backtest")[0]
    pass1, pass1_cpu = pass2_at - pass1_at, pass2_cpu_at - pass1_cpu_at
    scan_at = run.phases.get("pass0", (pass1_at, 0.0))[0]
    return TrainBench(
        wiki=wiki,
        dump=str(dump),
        dump_mb=round(dump.stat().st_size / 2**20, 1),
        pages=int(training["pages"]),
        articles=articles,
        train_articles=int(training["train_articles"]),
        wall_seconds=round(run.wall, 2),
        site_scan_seconds=round(pass1_at - scan_at, 2),
        dump_pass_seconds=round(pass1, 2),
        contexts_and_fit_seconds=round(backtest_at - pass2_at, 2),
        backtest_seconds=round(run.wall - backtest_at, 2),
        dump_pass_articles_per_second=rate(articles, pass1),
        overall_articles_per_second=rate(articles, run.wall),
        cpu_seconds=round(run.cpu, 1),
        dump_pass_cpu_seconds=round(pass1_cpu, 1),
        dump_pass_articles_per_cpu_second=rate(articles, pass1_cpu),
        peak_rss_mb=round(run.peak_rss_mb, 1),
        targets=int(training["targets"]),
        anchors=int(training["anchors"]),
        bundle_mb=round(sum(sizes.values()) / 2**20, 2),
        artifacts_bytes=sizes,
        bundle_load_cold_ms=round(cold_ms, 2),
        bundle_load_ms=round(best_ms, 2),
        bundle_rss_mb=round(one_bundle, 1),
        bundles=bundles,
        bundles_rss_mb=round(many_mb, 1),
        rss_per_bundle_mb=round(many_mb / bundles, 2) if bundles else 0.0,
        exit_code=run.exit_code,
        phases_seen=sorted(run.phases, key=run.phases.get),
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dump", required=True, type=Path, help="dump to train on")
    parser.add_argument("--wiki", required=True, help="wiki id of the bundle")
    parser.add_argument("--models", type=Path,
                        help="models directory to publish into (default: a temporary one, removed afterwards)")
    parser.add_argument("--loads", type=int, default=5, help="bundle loads timed, best reported (default 5)")
    parser.add_argument("--bundles", type=int, default=0, help="also open K copies at once and report RSS")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")


def main(args: argparse.Namespace) -> int:
    if not args.dump.is_file():
        raise AddlinkError(f"no dump at {args.dump}")
    if args.loads < 1 or args.bundles < 0:
        raise AddlinkError("--loads must be >= 1 and --bundles >= 0")
    if args.models is not None:
        figures = bench_train(args.dump, args.wiki, args.models, loads=args.loads, bundles=args.bundles)
    else:
        with tempfile.TemporaryDirectory(prefix="addlink-bench-train-") as models:
            figures = bench_train(args.dump, args.wiki, Path(models), loads=args.loads, bundles=args.bundles)
    print(json.dumps(figures.as_dict(), indent=2) if args.json else render(figures))
    return 0


def render(b: TrainBench) -> str:
    parts = ", ".join(f"{name} {size / 2**20:.2f} MB" for name, size in
                      sorted(b.artifacts_bytes.items(), key=lambda item: -item[1]))
    lines = [
        f"train {b.wiki}: {b.articles} articles ({b.pages} pages, {b.dump_mb} MB dump) in {b.wall_seconds} s",
        f"  site scan {b.site_scan_seconds} s; dump pass {b.dump_pass_seconds} s = {b.dump_pass_articles_per_second} articles/s; contexts + fit "
        f"{b.contexts_and_fit_seconds} s; backtest {b.backtest_seconds} s; overall {b.overall_articles_per_second} "
        "articles/s",
        f"  CPU {b.cpu_seconds} s, dump pass {b.dump_pass_cpu_seconds} s = {b.dump_pass_articles_per_cpu_second} "
        "articles per CPU-second",
        f"  peak RSS {b.peak_rss_mb} MB",
        f"  bundle {b.bundle_mb} MB ({b.anchors} anchors, {b.targets} targets): {parts}",
        f"  load {b.bundle_load_ms} ms best, {b.bundle_load_cold_ms} ms cold; one opened bundle +{b.bundle_rss_mb} MB RSS",
    ]
    if b.bundles:
        lines.append(f"  {b.bundles} bundles opened at once: +{b.bundles_rss_mb} MB RSS, {b.rss_per_bundle_mb} MB each")
    return "\n".join(lines)
