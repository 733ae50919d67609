"""stream.pipeline.state against the local stack's real Redis: atomic monotonic revisions, tombstones,
titles gone, de-duplication, TTLs, state loss, and authentication."""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from pydantic import SecretStr

from stream.config import RedisSettings
from stream.core.page_core import PageRecord
from stream.pipeline.state import PageState, TitleRecord, connect

WIKI = "ltgwiki"
T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings(redis_url: str, redis_prefix: str) -> RedisSettings:
    """The stack's Redis with a key prefix of the test's own (its keys are deleted after the test)."""
    return RedisSettings(url=redis_url, key_prefix=redis_prefix.rstrip(":"))


@pytest.fixture
def client(settings: RedisSettings) -> Iterator[redis.Redis]:
    client = connect(settings)
    yield client
    client.close()


@pytest.fixture
def state(client: redis.Redis, settings: RedisSettings) -> PageState:
    return PageState(client, settings)


# --- latest revision per page -----------------------------------------------------------------


def test_revisions_only_move_forward(state: PageState) -> None:
    assert state.page(WIKI, 1771) is None
    assert state.record_revision(WIKI, 1771, 500) is True
    assert state.record_revision(WIKI, 1771, 300) is False  # stale: never lowers the record
    assert state.latest_rev(WIKI, 1771) == 500
    assert state.record_revision(WIKI, 1771, 500) is True  # a duplicate of the current revision is current
    assert state.record_revision(WIKI, 1771, 5_000_000_000) is True  # beyond 32 bits
    assert state.page(WIKI, 1771) == PageRecord(rev_id=5_000_000_000, removed=False)
    assert state.latest_rev(WIKI, 1772) is None  # other pages untouched


def test_tombstone_blocks_the_same_revision_until_revived(state: PageState) -> None:
    state.record_revision(WIKI, 7, 70)
    assert state.mark_removed(WIKI, 7, 70) is True
    assert state.is_removed(WIKI, 7)
    assert state.record_revision(WIKI, 7, 70) is False  # the edit event redelivered after the delete
    assert state.record_revision(WIKI, 7, 70, revive=True) is True  # undelete / content shown again
    assert state.page(WIKI, 7) == PageRecord(rev_id=70, removed=False)
    assert state.mark_removed(WIKI, 7, 69) is False  # a stale delete never hides a newer revision
    assert not state.is_removed(WIKI, 7)
    state.mark_removed(WIKI, 7, 70)
    assert state.record_revision(WIKI, 7, 71) is True  # a newer revision lifts the tombstone
    assert state.page(WIKI, 7) == PageRecord(rev_id=71, removed=False)


def test_concurrent_writers_never_lower_the_revision(settings: RedisSettings, state: PageState) -> None:
    revisions = list(range(1, 401))
    accepted: list[list[int]] = []
    observed: list[int] = []
    writing = threading.Event()

    def writer(seed: int) -> None:
        # Mostly ascending with local jitter: writers race on close revisions all the time, which
        # is what makes a read-then-write implementation lower the record (checked: it fails here).
        rnd = random.Random(seed)
        mine = sorted(revisions, key=lambda rev: rev + rnd.uniform(-20, 20))
        own = PageState(connect(settings), settings)  # one client per thread, as separate processes would
        accepted.append([rev for rev in mine if own.record_revision(WIKI, 42, rev)])

    def watcher() -> None:
        own = PageState(connect(settings), settings)
        while writing.is_set():
            rev = own.latest_rev(WIKI, 42)
            if rev is not None:
                observed.append(rev)

    writing.set()
    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(6)]
    watch = threading.Thread(target=watcher)
    watch.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writing.clear()
    watch.join()
    assert state.latest_rev(WIKI, 42) == 400
    assert observed and observed == sorted(observed)  # never seen going down
    # Each writer's accepted revisions rise (nothing it accepted was older than what was recorded).
    assert all(run == sorted(run) for run in accepted)
    assert any(run and run[-1] == 400 for run in accepted)


def test_scripts_are_reloaded_after_a_script_flush(client: redis.Redis, state: PageState) -> None:
    client.script_flush()  # what a Redis restart does to cached Lua scripts
    assert state.record_revision(WIKI, 9, 90) is True
    assert state.latest_rev(WIKI, 9) == 90


# --- titles deleted or moved away ---------------------------------------------------------------


def test_pages_reads_many_records_in_one_round_trip(state) -> None:
    state.record_revision("elwiki", 1, 10)
    state.record_revision("elwiki", 2, 20)
    state.mark_removed("elwiki", 2, 20)
    assert state.pages("elwiki", [1, 2, 3]) == {1: state.page("elwiki", 1), 2: state.page("elwiki", 2), 3: None}
    assert state.pages("elwiki", [2])[2].removed and state.pages("elwiki", []) == {}


def test_titles_gone_and_back(state: PageState) -> None:
    assert state.mark_gone(WIKI, "Gregora_kaleņders", T0) is True
    assert state.is_gone(WIKI, "Gregora kaleņders")  # DB key and display form are the same title
    assert state.is_gone(WIKI, "gregora kaleņders")  # first letter case-insensitive (MediaWiki)
    assert state.mark_present(WIKI, "Gregora kaleņders", T0 - timedelta(seconds=1), page_id=5) is False  # older event
    assert state.is_gone(WIKI, "Gregora kaleņders")
    assert state.mark_present(WIKI, "Gregora kaleņders", T0 + timedelta(hours=1), page_id=5) is True  # re-created
    assert not state.is_gone(WIKI, "Gregora kaleņders")
    assert state.mark_gone(WIKI, "Gregora kaleņders", T0 + timedelta(minutes=30)) is False  # older than the re-creation


def test_batched_title_lookups(state: PageState) -> None:
    state.mark_gone(WIKI, "Lītne", T0)
    state.mark_present(WIKI, "Process", T0, page_id=405)
    state.mark_present(WIKI, "Pavasara_mieness", T0, page_id=1771)
    state.mark_gone(WIKI, "Pavasara_mieness", T0 + timedelta(days=1))
    titles = ["Lītne", "Process", "Pavasara mieness", "Europa"]
    assert state.titles(WIKI, titles) == {
        "Lītne": TitleRecord(gone=True, page_id=None),
        "Process": TitleRecord(gone=False, page_id=405),
        "Pavasara mieness": TitleRecord(gone=True, page_id=None),  # moved away after its creation
    }
    assert state.titles("elwiki", titles) == {}  # per wiki
    assert state.titles(WIKI, []) == {}


def test_naive_event_times_are_refused(state: PageState) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        state.mark_gone(WIKI, "Lītne", datetime(2026, 1, 1))


def test_new_articles_follow_their_titles_last_event(client: redis.Redis, settings: RedisSettings) -> None:
    state = PageState(client, settings.model_copy(update={"gone_title_ttl_s": 3600}))
    state.mark_present(WIKI, "Jaunais_rakstīņs", T0, page_id=9001, article=True)
    state.mark_present(WIKI, "Vecais", T0 - timedelta(hours=2), page_id=9002, article=True)  # trimmed below
    state.mark_present(WIKI, "Pāradresaceja", T0, page_id=9003)  # a redirect: no article
    state.mark_present(WIKI, "Izdzāsts", T0, page_id=9004, article=True)
    assert state.mark_gone(WIKI, "Izdzāsts", T0 - timedelta(seconds=1)) is False  # older: the article stays
    assert sorted(state.new_articles(WIKI)) == ["Izdzāsts", "Jaunais rakstīņs"]  # "Vecais" is over the TTL
    assert 3500 < client.ttl(state.articles_key(WIKI)) <= 3600
    state.mark_gone(WIKI, "Izdzāsts", T0 + timedelta(seconds=1))  # deleted or moved away
    state.mark_present(WIKI, "Jaunais rakstīņs", T0 + timedelta(seconds=2), page_id=9005)  # now a redirect
    assert state.new_articles(WIKI) == [] and state.new_articles("elwiki") == []


# --- documented key names and TTLs ------------------------------------------------------------------


def test_key_names_and_ttls(client: redis.Redis, settings: RedisSettings) -> None:
    short = settings.model_copy(update={"latest_revision_ttl_s": 100, "gone_title_ttl_s": 200})
    state = PageState(client, short)
    state.record_revision(WIKI, 1771, 28681)
    state.mark_gone(WIKI, "Lītne", T0)
    prefix = settings.key_prefix
    assert client.hgetall(f"{prefix}:page:{WIKI}:1771") == {b"rev": b"28681", b"removed": b"0"}
    assert client.hgetall(f"{prefix}:title:{WIKI}:Lītne") == {b"dt": str(int(T0.timestamp() * 1000)).encode(), b"gone": b"1"}
    assert 90 < client.ttl(f"{prefix}:page:{WIKI}:1771") <= 100
    assert 190 < client.ttl(f"{prefix}:title:{WIKI}:Lītne") <= 200


def test_records_expire(client: redis.Redis, settings: RedisSettings) -> None:
    state = PageState(client, settings.model_copy(update={"latest_revision_ttl_s": 1}))
    state.record_revision(WIKI, 1, 10)
    deadline = time.monotonic() + 5
    while state.page(WIKI, 1) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert state.page(WIKI, 1) is None
    assert state.record_revision(WIKI, 1, 5) is True  # forgotten: an old event is accepted again


# --- losing the state ---------------------------------------------------------------------------------


def test_losing_the_state_is_detectable_and_only_forgets(client: redis.Redis, settings: RedisSettings, state: PageState) -> None:
    first, created = state.generation()
    assert created and state.generation() == (first, False)
    state.record_revision(WIKI, 1771, 500)
    state.mark_removed(WIKI, 1771, 500)
    state.mark_gone(WIKI, "Lītne", T0)

    client.delete(*client.scan_iter(match=f"{settings.key_prefix}:*"))  # what a restart without persistence does

    second, created = state.generation()
    assert created and second != first
    # Every answer is now "nothing known", i.e. "do the work": never a refusal, never invented data.
    assert state.page(WIKI, 1771) is None and not state.is_removed(WIKI, 1771)
    assert state.record_revision(WIKI, 1771, 400) is True
    assert not state.is_gone(WIKI, "Lītne")


# --- connection settings ----------------------------------------------------------------------------


def test_password_authentication_from_a_file(client: redis.Redis, settings: RedisSettings, tmp_path: Path) -> None:
    """An ACL user on the stack's Redis, limited to the test's keys, its password given as a file."""
    user, password = f"addlink-test-{secrets.token_hex(3)}", secrets.token_hex(16)
    client.acl_setuser(user, enabled=True, passwords=[f"+{password}"], keys=[f"{settings.key_prefix}:*"], commands=["+@all"])
    try:
        secret = tmp_path / "redis.password"
        secret.write_text(password + "\n", encoding="utf-8")
        authed_settings = settings.model_copy(update={"username": user, "password_file": secret})
        authed = PageState(connect(authed_settings), authed_settings)
        assert authed.record_revision(WIKI, 1, 1) is True
        assert authed.latest_rev(WIKI, 1) == 1
        wrong = settings.model_copy(update={"username": user, "password": SecretStr("not-the-password")})
        with pytest.raises(redis.AuthenticationError):
            connect(wrong).ping()
        assert "not-the-password" not in repr(wrong)
    finally:
        client.acl_deluser(user)


def test_an_unreachable_redis_raises_instead_of_answering() -> None:
    settings = RedisSettings(url="redis://127.0.0.1:1/0", socket_timeout_s=0.5)
    with pytest.raises(redis.ConnectionError):
        PageState(connect(settings), settings).latest_rev(WIKI, 1)
