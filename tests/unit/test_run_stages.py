"""stream.pipeline.runner.run_stages: each stage on its own thread, ``before`` ahead of its loop, and a
failure (in ``before`` too) stops the others."""

from __future__ import annotations

import threading

from stream.pipeline.bootstrap import Stage
from stream.pipeline.runner import run_stages


class Loop:
    def __init__(self, role: str, log: list[str], stop: threading.Event) -> None:
        self.role, self._log, self._stop = role, log, stop

    def run(self, until=None) -> bool:
        self._log.append(f"{self.role} runs")
        while not self._stop.is_set():
            if until is not None and until():
                return True
            self._stop.wait(0.01)
        return False


def test_before_runs_on_the_stages_thread_ahead_of_its_loop() -> None:
    stop, log = threading.Event(), []
    ready = threading.Event()
    worker = Stage(Loop("worker", log, stop), sinks=[], producer=None, until=lambda: True)
    ingest = Stage(Loop("ingest", log, stop), sinks=[], producer=None, until=lambda: True,
                   before=lambda: (ready.wait(5), log.append("ingest waited")))
    worker.until = lambda: ready.set() or True  # the worker's first round lets ingest go
    assert run_stages([ingest, worker], stop) == 0
    assert log.index("ingest waited") < log.index("ingest runs")
    assert ingest.finished.is_set() and worker.finished.is_set()


def test_a_failing_before_fails_the_run_and_stops_the_others() -> None:
    stop, log = threading.Event(), []

    def never_settles() -> None:
        raise RuntimeError("the group did not settle")

    ingest = Stage(Loop("ingest", log, stop), sinks=[], producer=None, before=never_settles)
    worker = Stage(Loop("worker", log, stop), sinks=[], producer=None)
    assert run_stages([ingest, worker], stop) == 1
    assert "ingest runs" not in log and stop.is_set()
