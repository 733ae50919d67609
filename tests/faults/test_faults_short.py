"""The short fault-injection run in the suite: 600 real ltgwiki events (edits, moves, deletes,
undeletes) while a worker and the ingest are killed with SIGKILL, Elasticsearch and MariaDB are
stopped, the Kafka broker is restarted and Redis restarts empty; then every page must satisfy the
invariant (see README.md). Starts and stops its own stack on private ports (tests/faults/faults_stack.py),
so it needs no `stack/env.sh` and never touches the developer's stack."""

from __future__ import annotations

import pytest

from inject import SHORT, execute

pytestmark = pytest.mark.integration


def test_no_page_violates_the_invariant_under_faults() -> None:
    result = execute(SHORT)
    assert result.report.pages_checked >= 100, "every page of the workload is checked"
    assert result.figures["events processed (committed by ingest)"] == SHORT.events
    assert all(fault.recovered_s is not None for fault in result.faults), result.problems
    assert not result.problems, result.problems
    assert not result.report.violations, {kind: result.report.examples[kind] for kind in result.report.violations}
