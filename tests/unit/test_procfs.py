"""The /proc readings the benchmarks report."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from stream.bench import procfs

BUSY_CHILD = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\ntime.sleep(30)"


def test_a_busy_child_is_found_and_its_cpu_counted() -> None:
    machine_before = procfs.machine_busy_seconds()
    child = subprocess.Popen([sys.executable, "-c", BUSY_CHILD])
    try:
        deadline = time.monotonic() + 20
        while procfs.cpu_seconds(child.pid) < 0.3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert child.pid in procfs.child_pids(os.getpid())
        assert procfs.cpu_seconds(child.pid) >= 0.3
        assert procfs.machine_busy_seconds() - machine_before >= 0.3
        assert procfs.rss_mb(child.pid) > 1
    finally:
        child.kill()
        child.wait()


def test_resident_memory_follows_an_allocation() -> None:
    before = procfs.rss_mb(os.getpid())
    block = b"\x01" * (64 * 1024 * 1024)  # written, so every page is resident
    assert procfs.rss_mb(os.getpid()) - before > 50
    del block


def test_freed_heap_is_given_back() -> None:
    blocks = [bytes([n % 256]) * 30_000 for n in range(5_000)]  # below glibc's mmap threshold: on the heap
    keep = [bytes(64) for _ in range(5_000)]  # small live objects after them: the heap's top is not free
    held = procfs.rss_mb(os.getpid())
    del blocks
    procfs.release_free_heap()
    assert held - procfs.rss_mb(os.getpid()) > 100
    assert len(keep) == 5_000
