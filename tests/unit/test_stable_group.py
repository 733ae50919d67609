"""`wait_for_stable_group` (replay with N workers, bench stream): through the configured transport, done
once the group is stable with its members, and given up at once when the run is stopped."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from types import SimpleNamespace

import pytest

from stream.config import KafkaSettings
from stream.transport import kafka_io
from stream.transport.kafka_io import TransportError, wait_for_stable_group

SETTINGS = KafkaSettings(bootstrap_servers="127.0.0.1:1")


def fake_transport(monkeypatch: pytest.MonkeyPatch, answers: list[tuple[bool, int]]) -> list[str]:
    """A transport whose describer gives ``answers`` in turn (the last one forever); returns the groups asked."""
    asked: list[str] = []

    @contextmanager
    def group_describer(settings: KafkaSettings):
        def describe(group: str) -> tuple[bool, int]:
            asked.append(group)
            return answers[min(len(asked), len(answers)) - 1]

        yield describe

    monkeypatch.setattr(kafka_io, "_transport", lambda settings: SimpleNamespace(group_describer=group_describer))
    monkeypatch.setattr(kafka_io, "GROUP_CHECK_INTERVAL_S", 0.01)
    return asked


def test_waits_until_the_group_is_stable_with_every_member(monkeypatch) -> None:
    asked = fake_transport(monkeypatch, [(False, 1), (True, 1), (False, 2), (True, 2)])
    assert wait_for_stable_group(SETTINGS, "workers", 2) is True
    assert asked == ["workers"] * 4


def test_a_stop_ends_the_wait_at_once(monkeypatch) -> None:
    fake_transport(monkeypatch, [(True, 1)])  # the second member never comes
    monkeypatch.setattr(kafka_io, "GROUP_CHECK_INTERVAL_S", 60.0)
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    assert wait_for_stable_group(SETTINGS, "workers", 2, stop=stop, timeout=120) is False
    assert time.monotonic() - started < 5


def test_a_stopped_run_does_not_ask_at_all(monkeypatch) -> None:
    asked = fake_transport(monkeypatch, [(True, 2)])
    stop = threading.Event()
    stop.set()
    assert wait_for_stable_group(SETTINGS, "workers", 2, stop=stop) is False
    assert asked == []


def test_a_group_that_never_settles_fails_after_the_timeout(monkeypatch) -> None:
    fake_transport(monkeypatch, [(False, 2)])
    with pytest.raises(TransportError, match="did not settle with 2 members"):
        wait_for_stable_group(SETTINGS, "workers", 2, timeout=0.1)
