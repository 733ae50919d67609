"""The fault-injection run's own service stack: stack/up.sh and stack/down.sh with a private
directory and six non-default ports (nine), so it never touches the developer's stack or other tests.

Services are stopped and started one at a time through the scripts' service argument; Redis can
be restarted with its data directory wiped (a restart that loses every key).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DIR = Path(os.environ.get("ADDLINK_FAULTS_DIR", "/tmp/addlink-faults"))


@dataclass(frozen=True)
class Ports:
    kafka: int = 19392
    kafka_controller: int = 19393
    elasticsearch: int = 19400
    elasticsearch_transport: int = 19500
    mariadb: int = 13606
    redis: int = 16679
    kafka_sasl: int = 19394      # the stack's secured endpoints (stack/env.sh): unused here, but they
    elasticsearch_tls: int = 19443  # must not take the default ports of the developer's stack
    redis_tls: int = 16680


@dataclass(frozen=True)
class FaultStack:
    """One private stack: ``directory/stack`` holds its data, logs and pid files."""

    directory: Path = DEFAULT_DIR
    ports: Ports = Ports()
    host: str = "127.0.0.1"

    @property
    def stack_dir(self) -> Path:
        return self.directory / "stack"

    @property
    def kafka(self) -> str:
        return f"{self.host}:{self.ports.kafka}"

    @property
    def elasticsearch(self) -> str:
        return f"http://{self.host}:{self.ports.elasticsearch}"

    @property
    def redis(self) -> str:
        return f"redis://{self.host}:{self.ports.redis}/0"

    @property
    def mariadb(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.ports.mariadb, "user": "root", "password": "", "charset": "utf8mb4",
                "connect_timeout": 5}

    def environment(self) -> dict[str, str]:
        return os.environ | {
            "ADDLINK_STACK_DIR": str(self.stack_dir),
            "ADDLINK_STACK_HOST": self.host,
            "ADDLINK_KAFKA_PORT": str(self.ports.kafka),
            "ADDLINK_KAFKA_CONTROLLER_PORT": str(self.ports.kafka_controller),
            "ADDLINK_ES_PORT": str(self.ports.elasticsearch),
            "ADDLINK_ES_TRANSPORT_PORT": str(self.ports.elasticsearch_transport),
            "ADDLINK_MARIADB_PORT": str(self.ports.mariadb),
            "ADDLINK_REDIS_PORT": str(self.ports.redis),
            "ADDLINK_KAFKA_SASL_PORT": str(self.ports.kafka_sasl),
            "ADDLINK_ES_TLS_PORT": str(self.ports.elasticsearch_tls),
            "ADDLINK_REDIS_TLS_PORT": str(self.ports.redis_tls),
        }

    def _script(self, script: str, *services: str) -> None:
        log = self.directory / "stack-commands.log"
        self.directory.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            out.write(f"\n$ bash stack/{script} {' '.join(services)}\n".encode())
            out.flush()
            result = subprocess.run(["bash", str(REPO / "stack" / script), *services], cwd=REPO,
                                    env=self.environment(), stdout=out, stderr=subprocess.STDOUT, timeout=600)
        if result.returncode != 0:
            tail = log.read_text(errors="replace").splitlines()[-15:]
            raise RuntimeError(f"stack/{script} {' '.join(services)} failed:\n" + "\n".join(tail))

    def up(self, *services: str) -> None:
        """Start (all, or the named) services and wait until healthy."""
        self._script("up.sh", *services)

    def down(self, *services: str) -> None:
        """Stop (all, or the named) services; returns once their processes are gone."""
        self._script("down.sh", *services)

    def restart_redis_empty(self) -> float:
        """Stop Redis, delete its data files (AOF and RDB), start it: every key is lost. Returns
        the seconds Redis was unavailable."""
        started = time.monotonic()
        self.down("redis")
        shutil.rmtree(self.stack_dir / "redis" / "data", ignore_errors=True)
        self.up("redis")
        return time.monotonic() - started
