"""One spawned child process that runs functions sent over a pipe, killed and replaced when a call overruns.

Why not a process pool: the worker scores one page at a time, and a pool's hand-off (a task queue, a
feeder thread, a result thread and a future per call) cost the worker's process about a millisecond of
CPU and several thread switches per page (``addlink bench stream``, CPU per event). Here a call is one
``send`` and one ``recv`` on a duplex pipe, in the calling thread.

The deadline is a hard bound: the child may be stuck in native code (MeCab, the text engine) that no
signal interrupts, so an overrun kills it. A replacement starts at once, and the next call waits for it
to be ready *outside* its own timeout, so a child still importing does not eat the next page's budget.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any, TypeVar

__all__ = ["CallTimeout", "ChildDied", "ChildProcess"]

T = TypeVar("T")

START_TIMEOUT_S = 300.0
"""How long a child may take to start (imports, the initializer): far above the seconds it takes."""


class CallTimeout(Exception):
    """The call did not return within its timeout; the child was killed and a new one started."""


class ChildDied(Exception):
    """The child ended while starting or running a call (a crash, or killed by the kernel)."""

    def __init__(self, exitcode: int | None) -> None:
        super().__init__(f"the child process ended (exit code {exitcode})")
        self.exitcode = exitcode


class _Ready:
    """The first message of a child whose initializer finished."""


def _serve(conn: Connection, initializer: Callable[..., None], initargs: Sequence[Any]) -> None:
    """The child's loop: run each ``(function, args)`` received and send back ``(True, result)`` or
    ``(False, exception)``; end when the parent closes its end.

    Ctrl-C and a SIGTERM sent to the whole process group are the parent's to handle (it drains, and the
    page in hand still needs this process); the parent ends the child by closing the pipe or killing it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    initializer(*initargs)
    conn.send(_Ready())
    while True:
        try:
            function, args = conn.recv()
        except EOFError:
            return
        try:
            reply: tuple[bool, Any] = (True, function(*args))
        except BaseException as error:  # noqa: BLE001 - every failure is the caller's to see
            reply = (False, error)
        try:
            conn.send(reply)
        except Exception as error:  # noqa: BLE001 - an unpicklable result or exception
            conn.send((False, RuntimeError(f"the child could not send its answer back: {error!r}")))


class ChildProcess:
    """Runs ``function(*args)`` in one spawned child that ran ``initializer(*initargs)`` first.

    Spawned, not forked: the parent runs librdkafka and OpenMP threads, which a forked child would inherit
    in an undefined state. Thread-compatible, not thread-safe: one caller at a time."""

    def __init__(self, initializer: Callable[..., None], initargs: Sequence[Any] = ()) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._initializer = initializer
        self._initargs = tuple(initargs)
        self._process: Any = None
        self._conn: Connection | None = None
        self._ready = False
        self.generation = 0
        """Counts the children started: a new value means a child that holds nothing of the last one's."""
        self._start()

    def _start(self) -> None:
        parent, child = self._context.Pipe(duplex=True)
        self._process = self._context.Process(target=_serve, args=(child, self._initializer, self._initargs),
                                              daemon=True, name="addlink-scoring")
        self._process.start()
        child.close()  # the child holds its own copy: EOF here once the child is gone
        self._conn, self._ready = parent, False
        self.generation += 1

    def _stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.kill()
            self._process.join(timeout=10)
            self._process = None

    def _restart(self) -> None:
        self._stop()
        self._start()

    def _died(self) -> ChildDied:
        """Replace a child that ended; the error to raise says how it ended."""
        assert self._process is not None
        self._process.join(timeout=10)
        error = ChildDied(self._process.exitcode)
        self._restart()
        return error

    def _await_ready(self) -> Connection:
        conn = self._conn
        if conn is None:
            raise RuntimeError("the child process is closed")
        if self._ready:
            return conn
        try:
            if not conn.poll(START_TIMEOUT_S):
                self._restart()
                raise CallTimeout(f"the child process did not start within {START_TIMEOUT_S:.0f} s")
            message = conn.recv()
        except (EOFError, OSError):
            raise self._died() from None
        if not isinstance(message, _Ready):
            raise RuntimeError(f"the child process said {message!r} before it was ready")
        self._ready = True
        return conn

    def call(self, function: Callable[..., T], args: Sequence[Any], timeout: float) -> T:
        """``function(*args)`` in the child, within ``timeout`` seconds from when the child has it.

        Raises what the function raised, :class:`CallTimeout` (the child was killed and replaced) or
        :class:`ChildDied` (replaced too)."""
        conn = self._await_ready()
        try:
            conn.send((function, tuple(args)))
            if not conn.poll(max(timeout, 0.0)):
                self._restart()
                raise CallTimeout(f"the call did not return within {timeout:.1f} s; the child process was replaced")
            ok, value = conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError):
            raise self._died() from None
        if not ok:
            raise value
        return value

    def close(self) -> None:
        """Ask the child to end (EOF on its pipe), then make sure it has."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.join(timeout=10)
        self._stop()
