"""librdkafka's synchronous commit has no time limit: after a broker restart a client that never finds
its group coordinator again would block the consume loop forever (seen in fault injection). The
confluent transport bounds it; no broker is needed to check that."""

from __future__ import annotations

import threading
import time

import pytest

from stream.transport.checkpoint import CommitFailed
from stream.config import KafkaSettings
from stream.transport.confluent import ConfluentConsumer


class HangingClient:
    def __init__(self) -> None:
        self.release = threading.Event()
        self.commits = 0

    def commit(self, offsets, asynchronous):
        self.commits += 1
        self.release.wait()
        return []

    def close(self) -> None:
        self.release.wait()


@pytest.fixture
def consumer():
    real = ConfluentConsumer(KafkaSettings(bootstrap_servers="127.0.0.1:1"), "g", client_id="t", session_timeout_ms=6000)
    real._consumer.close()
    hanging = HangingClient()
    real._consumer = hanging
    real._call_timeout_s = 0.3
    yield real, hanging
    hanging.release.set()


def test_a_commit_that_hangs_fails_in_bounded_time_and_is_not_repeated_while_it_hangs(consumer) -> None:
    transport, client = consumer
    started = time.monotonic()
    with pytest.raises(CommitFailed, match="no group coordinator"):
        transport.commit({("t", 0): 5})
    assert time.monotonic() - started < 2
    with pytest.raises(CommitFailed, match="still waits"):
        transport.commit({("t", 0): 6})
    assert client.commits == 1, "no second call into a client that hangs"
    client.release.set()
    time.sleep(0.1)
    transport.commit({("t", 0): 7})
    assert client.commits == 2


def test_rejoin_abandons_a_client_that_hangs_and_starts_a_fresh_one(consumer) -> None:
    transport, client = consumer
    with pytest.raises(CommitFailed):
        transport.commit({("t", 0): 5})
    started = time.monotonic()
    transport.rejoin()  # close() hangs too: abandoned after the bound
    assert time.monotonic() - started < 2
    assert transport._consumer is not client and transport._stuck is None
    transport._consumer.close()
