"""What Linux's /proc says of a process and of the machine, for the benchmarks: CPU seconds, resident
memory and child processes; and handing a process's freed heap back to the kernel, so that its resident
memory says what it holds. The benchmarks run where the services run (Linux); nothing else reads it."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (fields 14 and 15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_mb(pid: int) -> float:
    """Resident memory of a live process in MB (VmRSS of /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"/proc/{pid}/status has no VmRSS")


def child_pids(pid: int) -> list[int]:
    """The live children of ``pid`` (every thread's /proc/PID/task/TID/children)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children.extend(int(child) for child in (task / "children").read_text(encoding="ascii").split())
        except FileNotFoundError:  # the thread ended meanwhile
            continue
    return children


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent not idle since boot (/proc/stat's cpu line)."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle, iowait = fields[3], fields[4]
    guest = sum(fields[8:10])  # already counted in user and nice
    return (sum(fields) - idle - iowait - guest) / _TICKS


def release_free_heap() -> None:
    """Collect garbage, then ask glibc to give every whole free page of its heaps back (``malloc_trim``).

    Why: glibc keeps freed memory mapped for reuse, so after a burst of allocations (a benchmark's events
    built at once, the consumers' prefetch of a backlog) the resident size stays at the burst's high-water
    mark; a leak would then fill that free heap first and not show in RSS. Only free pages are returned:
    what the process holds stays resident. A no-op where the C library has no ``malloc_trim`` (musl)."""
    gc.collect()
    trim = getattr(ctypes.CDLL(ctypes.util.find_library("c")), "malloc_trim", None)
    if trim is not None:
        trim(0)
