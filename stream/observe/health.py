"""``/healthz`` and ``/metrics`` over HTTP, from a daemon thread.

Endpoints (GET):
- ``/healthz/live``  200 while every consume loop has come round within ``stall_seconds``; 503 if one
  is stuck or died. A sink outage does not make the process dead (it is waiting, on purpose).
- ``/healthz/ready`` 200 when live, every loop is running (not starting, not draining) and none is
  under backpressure; 503 otherwise.
- ``/healthz``       readiness status code, with a JSON body detailing both and each loop's state.
- ``/metrics``       Prometheus text format of the registry passed in.

The server binds to the configured host (default 127.0.0.1, see configuration) and never exposes
configuration values.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from stream.core.quiet import Clock


@dataclass
class LoopState:
    """What one consume loop last told :class:`Health`."""

    phase: str = "starting"  # starting | running | draining | stopped | failed
    heartbeat: float = 0.0
    backpressure: bool = False
    detail: str = ""


class Health:
    """Thread-safe liveness and readiness, fed by the loops' heartbeats."""

    def __init__(self, clock: Clock, stall_seconds: float = 120.0) -> None:
        self._clock = clock
        self._stall = stall_seconds
        self._lock = threading.Lock()
        self._loops: dict[str, LoopState] = {}

    def register(self, role: str) -> None:
        with self._lock:
            self._loops[role] = LoopState(heartbeat=self._clock.monotonic())

    def beat(self, role: str, *, phase: str | None = None, backpressure: bool | None = None, detail: str = "") -> None:
        """Called by a loop on every round; ``phase``/``backpressure`` change its state when given."""
        with self._lock:
            state = self._loops.setdefault(role, LoopState())
            state.heartbeat = self._clock.monotonic()
            if phase is not None:
                state.phase = phase
            if backpressure is not None:
                state.backpressure = backpressure
            if detail or phase is not None:
                state.detail = detail

    def report(self) -> dict[str, object]:
        """``{"live": bool, "ready": bool, "loops": {role: {...}}}``."""
        now = self._clock.monotonic()
        with self._lock:
            loops = {role: LoopState(**vars(state)) for role, state in self._loops.items()}
        live = bool(loops) and all(
            state.phase not in ("failed",) and (state.phase == "stopped" or now - state.heartbeat <= self._stall)
            for state in loops.values()
        )
        ready = live and all(state.phase == "running" and not state.backpressure for state in loops.values())
        return {
            "live": live,
            "ready": ready,
            "loops": {
                role: {
                    "phase": state.phase,
                    "backpressure": state.backpressure,
                    "seconds_since_heartbeat": round(now - state.heartbeat, 3),
                    "detail": state.detail,
                }
                for role, state in loops.items()
            },
        }


class HealthServer:
    """The HTTP server; ``port`` 0 picks a free port (see :attr:`port`)."""

    def __init__(self, host: str, port: int, health: Health, registry: CollectorRegistry) -> None:
        handler = _handler_class(health, registry)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="addlink-health", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler_class(health: Health, registry: CollectorRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            path = self.path.split("?", 1)[0].rstrip("/")
            if path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
                return
            if path in ("/healthz", "/healthz/live", "/healthz/ready"):
                report = health.report()
                ok = report["live"] if path == "/healthz/live" else report["ready"]
                self._send(200 if ok else 503, "application/json", json.dumps(report).encode())
                return
            self._send(404, "text/plain; charset=utf-8", b"not found\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - silence access logs
            return

    return Handler
