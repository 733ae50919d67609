"""Reporting of ``addlink reconcile``: counts by drift kind, sample page ids, JSON, exit code.

What drift is and which writes repair it is decided by :func:`stream.core.page_core.assess`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from stream.core.page_core import Drift, PageDrift

SAMPLE_SIZE = 10
"""Page ids kept per kind for the report (the counts are always complete)."""


def _zero() -> dict[Drift, int]:
    return dict.fromkeys(Drift, 0)


@dataclass
class Report:
    """Counts of one run. ``found`` = pages whose drift was confirmed by a fresh read; ``fixed`` =
    pages repaired and read back consistent; ``resolved_meanwhile`` = candidates of a batch read
    that were consistent when re-read (the consumer finished a write in between)."""

    wiki: str
    fix: bool
    pages_checked: int = 0
    resolved_meanwhile: int = 0
    found: dict[Drift, int] = field(default_factory=_zero)
    fixed: dict[Drift, int] = field(default_factory=_zero)
    samples: dict[Drift, list[int]] = field(default_factory=lambda: {kind: [] for kind in Drift})
    seconds: float = 0.0

    def record(self, drift: PageDrift, *, fixed: bool) -> None:
        for kind in drift.kinds:
            self.found[kind] += 1
            if fixed:
                self.fixed[kind] += 1
            if len(self.samples[kind]) < SAMPLE_SIZE:
                self.samples[kind].append(drift.page_id)

    @property
    def remaining(self) -> dict[Drift, int]:
        return {kind: self.found[kind] - self.fixed[kind] for kind in Drift}

    @property
    def exit_code(self) -> int:
        """0 when nothing drifts any more, 1 when some drift remains (always, without --fix)."""
        return 1 if any(self.remaining.values()) else 0

    def as_json(self) -> dict[str, object]:
        def named(counts: Mapping[Drift, object]) -> dict[str, object]:
            return {str(kind): counts[kind] for kind in Drift}

        return {
            "wiki": self.wiki,
            "fix": self.fix,
            "pages_checked": self.pages_checked,
            "drift": named(self.found),
            "fixed": named(self.fixed),
            "remaining": named(self.remaining),
            "resolved_meanwhile": self.resolved_meanwhile,
            "samples": named(self.samples),
            "seconds": round(self.seconds, 3),
        }

    def summary(self) -> str:
        """Human-readable: one line of totals, then one line per kind."""
        pages = sum(self.found.values())
        mode = "fixed" if self.fix else "dry run, nothing changed"
        lines = [f"{self.wiki}: {self.pages_checked} pages checked in {self.seconds:.1f} s, "
                 f"{pages} drift findings ({mode}); {self.resolved_meanwhile} resolved meanwhile by the consumer"]
        lines.append(f"  {'kind':<18} {'found':>7} {'fixed':>7} {'remaining':>9}  sample page ids")
        for kind in Drift:
            sample = " ".join(map(str, self.samples[kind]))
            lines.append(f"  {kind:<18} {self.found[kind]:>7} {self.fixed[kind]:>7} {self.remaining[kind]:>9}  {sample}")
        return "\n".join(lines)
