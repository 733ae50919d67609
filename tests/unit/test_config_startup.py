"""`addlink run --config` with a bad configuration: exit 2 at start-up, the dotted key on stderr, nothing started.

Runs the real command as a subprocess. Every service address in the configuration points at one
plain TCP listener of the test, so "nothing started" is observable without any service: the
process must exit before it opens a single connection. (tests/unit/test_config.py covers the
messages of `load_settings` in-process; this covers what an operator sees.)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sock.setblocking(False)
        yield sock


def base_config(port: int) -> str:
    return (f"kafka:\n  bootstrap_servers: 127.0.0.1:{port}\n"
            f"redis:\n  url: redis://127.0.0.1:{port}/0\n"
            f"mariadb:\n  host: 127.0.0.1\n  port: {port}\n"
            f"elasticsearch:\n  url: http://127.0.0.1:{port}\n"
            "wikis:\n  elwiki:\n    language: el\n")


def run_addlink(config: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ADDLINK_")} | (env or {})
    return subprocess.run([sys.executable, "-m", "stream.cli", "run", "--config", str(config)], cwd=REPO, env=clean,
                          capture_output=True, text=True, timeout=60)


def connections(sock: socket.socket) -> int:
    count = 0
    while True:
        try:
            sock.accept()[0].close()
        except BlockingIOError:
            return count
        count += 1


CASES = {
    "bad value in the file": ("kafka:\n  work_partitions: 0\n", {}, "kafka.work_partitions: Input should be greater"),
    "unknown key in the file": ("wikis:\n  elwiki:\n    language: el\n    minimum_link_scor: 0.5\n", {},
                                "wikis.elwiki.minimum_link_scor: unknown key"),
    "bad environment override": ("", {"ADDLINK_WIKIS__ELWIKI__MINIMUM_LINK_SCORE": "2"},
                                 "wikis.elwiki.minimum_link_score: Input should be less than or equal to 1 "
                                 "(from environment variable ADDLINK_WIKIS__ELWIKI__MINIMUM_LINK_SCORE)"),
    "unknown key in the environment": ("", {"ADDLINK_KAFKA__BOOTSTRAP_SERVER": "x:1"},
                                       "kafka.bootstrap_server: unknown key"),
    "missing secret file": ("redis:\n  password_file: /nonexistent/addlink/redis.pass\n", {},
                            "redis.password_file: Path does not point to a file"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_configuration_error_names_the_key_and_stops_before_connecting(
        tmp_path: Path, listener: socket.socket, case: str) -> None:
    extra, env, expected = CASES[case]
    config = tmp_path / "addlink.yaml"
    base = base_config(listener.getsockname()[1])
    if extra.startswith("redis:"):  # merge into the base file's redis table
        base = base.replace("redis:\n", extra.split("\n", 1)[0] + "\n" + extra.split("\n", 1)[1], 1)
        extra = ""
    config.write_text(base + extra, encoding="utf-8")
    result = run_addlink(config, env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("addlink run: invalid configuration"), result.stderr
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert connections(listener) == 0, "a service was contacted before the configuration was checked"


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("missing.yaml", None, "cannot read configuration file"),
    ("broken.yaml", "kafka: [unclosed\n", "is not valid YAML"),
])
def test_an_unreadable_configuration_file_exits_2_with_one_line(tmp_path: Path, name: str, content: str | None,
                                                                 expected: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = run_addlink(path)
    assert result.returncode == 2 and expected in result.stderr and "Traceback" not in result.stderr, result.stderr
