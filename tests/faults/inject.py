"""Fault injection: replay real ltgwiki events through `addlink run` processes while killing them
and stopping the services, then check the invariant over every page (see README.md).

    .venv/bin/python tests/faults/inject.py                # 5,000 events, every fault, repeatedly
    .venv/bin/python tests/faults/inject.py --short        # the CI version (600 events, each fault once)

Exit status 0 when no page violates the invariant and nothing else went wrong, 1 otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

if __name__ == "__main__":  # run as a script: pytest's pythonpath (pyproject.toml) is not in effect
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from faults_run import FULL, SHORT, Harness, Profile, Result, load_workload  # noqa: E402
from faults_stack import DEFAULT_DIR, FaultStack  # noqa: E402


def execute(profile: Profile, *, directory: Path = DEFAULT_DIR, keep_stack: bool = False) -> Result:
    """Start the fault stack, run ``profile``, print the figures, take the stack down (unless kept)."""
    stack = FaultStack(directory)
    started = time.monotonic()
    print(f"fault stack in {stack.stack_dir} (kafka {stack.kafka}, es {stack.elasticsearch}, "
          f"mariadb :{stack.ports.mariadb}, redis :{stack.ports.redis})", flush=True)
    stack.up()
    try:
        workload = load_workload(profile.events)
        harness = Harness(stack, profile, log=lambda line: print(line, flush=True))
        harness.prepare(workload)
        print(f"run {harness.run_id}: {len(workload.events)} events over {len(workload.final)} pages at "
              f"{profile.rate:g}/s; logs in {harness.directory}; faults:", flush=True)
        try:
            result = harness.run()
        finally:
            harness.cleanup()
    finally:
        if not keep_stack:
            stack.down()
    result.figures["wall time incl. stack (s)"] = round(time.monotonic() - started, 1)
    print_result(result)
    return result


def print_result(result: Result) -> None:
    report = result.report
    print("\nfigures:")
    for name, value in result.figures.items():
        print(f"  {name}: {value}")
    print(f"  pages checked: {report.pages_checked} (final rows: {dict(report.final_rows)}; "
          f"{report.ambiguous_pages} with more than one allowed row kind)")
    print("  time to recover after each fault (s from repair: resumed / backlog processed):")
    for fault in result.faults:
        print(f"    {fault.name:28} down {fault.downtime_s:5.1f}  resumed {fault.resumed_s}  "
              f"recovered {fault.recovered_s}  backpressure seen {fault.backpressure:g}")
    print(f"violations: {sum(report.violations.values())} {dict(report.violations)}")
    for kind, examples in report.examples.items():
        for example in examples:
            print(f"  {kind}: {example}")
    for problem in result.problems:
        print(f"problem: {problem}")
    print("PASS" if result.ok else "FAIL")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="the CI profile: 600 events, each fault once, short downtimes")
    parser.add_argument("--events", type=int, help="number of events (default 5000, 600 with --short)")
    parser.add_argument("--rate", type=float, help="events published per second")
    parser.add_argument("--downtime", type=float, help="seconds Elasticsearch and MariaDB stay stopped")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"stack, model and logs (default {DEFAULT_DIR})")
    parser.add_argument("--keep-stack", action="store_true", help="leave the fault stack running afterwards")
    args = parser.parse_args()
    profile = SHORT if args.short else FULL
    changes = {key: value for key, value in (("events", args.events), ("rate", args.rate),
                                               ("sink_downtime_s", args.downtime)) if value is not None}
    result = execute(dataclasses.replace(profile, **changes), directory=args.dir, keep_stack=args.keep_stack)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
