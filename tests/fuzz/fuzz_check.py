"""Drive ``page_change_cases.cases`` through Hypothesis and check what reached the error topic.

Used by the CI test (tests/integration/test_fuzz_ingest.py) and by ``run_fuzz.py``. Generation runs
Hypothesis' engine in chunks of fresh seeds (one engine per chunk keeps its memory bounded); every
drawn case is handed to ``publish`` as soon as it exists. ``Expected`` remembers, per case, a
digest of the bytes the consumer sees, so that a run of 100,000 events holds no copy of them.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings

from page_change_cases import Case, cases
from sinks.error_events import decode_raw_event

TRUNCATION_NOTE = "[raw_event truncated:"


def _digest(raw: bytes) -> bytes:
    return hashlib.blake2b(raw, digest_size=16).digest()


@dataclass
class Expected:
    """What was published: digests of invalid and valid values, counts per kind, and the full bytes
    of the invalid values too large for an error event (whose raw_event keeps a prefix only)."""

    invalid: Counter[bytes] = field(default_factory=Counter)
    valid: set[bytes] = field(default_factory=set)
    kinds: Counter[str] = field(default_factory=Counter)
    large_invalid: list[bytes] = field(default_factory=list)
    large_bytes: int = 800_000

    def add(self, case: Case) -> None:
        self.kinds[case.kind.split(":")[0]] += 1
        if case.invalid:
            self.invalid[_digest(case.value)] += 1
            if len(case.value) > self.large_bytes:
                self.large_invalid.append(case.value)
        else:
            self.valid.add(_digest(case.value))

    @property
    def events(self) -> int:
        return sum(self.kinds.values())

    @property
    def invalid_count(self) -> int:
        return sum(self.invalid.values())


@dataclass
class Verdict:
    """How the error topic compares with ``Expected``: ``missing`` invalid events never reported,
    ``valid_reported`` error events for valid input, ``foreign`` error events matching no input."""

    received: int
    missing: int
    valid_reported: list[dict[str, Any]]
    foreign: list[dict[str, Any]]
    truncated: int

    @property
    def ok(self) -> bool:
        return self.missing == 0 and not self.valid_reported and not self.foreign


def compare(expected: Expected, error_events: Iterable[dict[str, Any]]) -> Verdict:
    """Match every error event to a published invalid value by its exact raw bytes (or, for a
    raw_event truncated by the error sink, as a prefix of a large invalid value)."""
    left = Counter(expected.invalid)
    valid_reported: list[dict[str, Any]] = []
    foreign: list[dict[str, Any]] = []
    received = truncated = 0
    for event in error_events:
        received += 1
        raw = decode_raw_event(event["raw_event"])
        if TRUNCATION_NOTE in event.get("message", ""):
            whole = next((v for v in expected.large_invalid if v.startswith(raw) and left[_digest(v)] > 0), None)
            if whole is not None:
                left[_digest(whole)] -= 1
                truncated += 1
                continue
        digest = _digest(raw)
        if left[digest] > 0:
            left[digest] -= 1
        elif digest in expected.valid:
            valid_reported.append(event)
        else:
            foreign.append(event)
    return Verdict(received, sum(n for n in left.values() if n > 0), valid_reported, foreign, truncated)


def generate(count: int, publish: Callable[[Case], None], *, enabled_wiki: str, first_seed: int = 0,
             chunk: int = 5_000, past_only: bool = False, between_chunks: Callable[[], None] = lambda: None) -> int:
    """Draw about ``count`` cases (Hypothesis may draw a few more per chunk) and ``publish`` each;
    returns how many were published."""
    published = 0
    for number, start in enumerate(range(0, count, chunk)):
        size = min(chunk, count - start)

        @seed(first_seed + number)
        @settings(max_examples=size, database=None, deadline=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(cases(enabled_wiki, past_only=past_only))
        def draw(case: Case) -> None:
            nonlocal published
            publish(case)
            published += 1

        draw()
        between_chunks()
    return published
