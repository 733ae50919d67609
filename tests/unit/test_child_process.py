"""The scoring process' transport: answers and exceptions come back, an overrun or a crash replaces the
child, and a child's start-up is not counted in a call's timeout."""

from __future__ import annotations

import os
import signal
import time

import pytest

from stream.pipeline.child_process import CallTimeout, ChildDied, ChildProcess

_state: dict[str, str] = {}


def _init(value: str, delay_s: float = 0.0) -> None:
    time.sleep(delay_s)
    _state["value"] = value


def _read(suffix: str) -> str:
    return _state["value"] + suffix


def _fail(message: str) -> None:
    raise ValueError(message)


def _exit(code: int) -> None:
    os._exit(code)


@pytest.fixture
def child():
    process = ChildProcess(_init, ("started",))
    yield process
    process.close()


def test_a_call_returns_what_the_function_returned_in_the_initialised_child(child: ChildProcess) -> None:
    assert child.call(_read, ("!",), timeout=30) == "started!"
    assert child.call(_read, ("?" * 1_000_000,), timeout=30) == "started" + "?" * 1_000_000, "larger than a pipe's buffer"


def test_an_exception_is_raised_in_the_caller_and_the_child_goes_on(child: ChildProcess) -> None:
    with pytest.raises(ValueError, match="bad page"):
        child.call(_fail, ("bad page",), timeout=30)
    assert child.call(_read, ("",), timeout=30) == "started"
    assert child.generation == 1


def test_an_overrun_kills_the_child_on_time_and_the_next_call_gets_a_new_one(child: ChildProcess) -> None:
    child.call(_read, ("",), timeout=30)
    started = time.monotonic()
    with pytest.raises(CallTimeout):
        child.call(time.sleep, (60,), timeout=0.5)
    assert time.monotonic() - started < 5
    assert child.generation == 2
    assert child.call(_read, ("",), timeout=30) == "started", "the new child ran the initializer"


def test_a_crash_is_told_with_its_exit_code_and_the_child_replaced(child: ChildProcess) -> None:
    with pytest.raises(ChildDied) as died:
        child.call(_exit, (3,), timeout=30)
    assert died.value.exitcode == 3
    assert child.call(_read, ("",), timeout=30) == "started"
    assert child.generation == 2


def test_start_up_is_not_counted_in_the_first_calls_timeout() -> None:
    slow = ChildProcess(_init, ("slow", 2.0))
    try:
        assert slow.call(_read, ("",), timeout=0.5) == "slow"
    finally:
        slow.close()


def test_a_signal_to_the_process_group_is_left_to_the_parent(child: ChildProcess) -> None:
    pid = child.call(os.getpid, (), timeout=30)
    os.kill(pid, signal.SIGINT)
    os.kill(pid, signal.SIGTERM)
    assert child.call(_read, ("",), timeout=30) == "started"
    assert child.generation == 1, "the same child answered"
