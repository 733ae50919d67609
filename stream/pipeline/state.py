"""The fleet's shared state in Redis: latest revision per page, titles gone, title -> page id.

Keys (prefix = `redis.key_prefix`, default "addlink"; titles normalised as MediaWiki does, with
spaces; TTLs from `redis.*_ttl_s`, refreshed on every write):

    <prefix>:page:<wiki>:<page_id>    hash  rev = highest revision id seen, removed = 1 after a
                                            delete / hidden content of that revision (tombstone)
                                            TTL latest_revision_ttl_s (30 days)
    <prefix>:title:<wiki>:<title>     hash  gone = 1 (deleted or moved away without a redirect) or
                                            0 (exists again), page_id when known, dt = event time
                                            in ms (older events never override newer ones)
                                            TTL gone_title_ttl_s (90 days: longer than a model
                                            bundle lives, since bundles propose trained titles)
    <prefix>:articles:<wiki>          sorted set  titles of main-namespace articles (not redirects)
                                            created, undeleted or moved to, score = event time in
                                            ms; a title leaves when its page is gone or is a
                                            redirect. Written with the title hash in one script;
                                            members older than gone_title_ttl_s are trimmed on
                                            write, so it holds at most that long's creations.
                                            The worker offers them as targets (stream/pipeline/new_titles.py)
    <prefix>:generation               string  random id set once; a different or missing value
                                            means Redis lost its state (count it, expect extra work)

Every read-modify-write is one Lua script (atomic on the server), so concurrent ingest and worker
processes on many hosts can never lower a page's revision or revive a tombstone with a stale event.
Redis being *unreachable* raises `redis.exceptions.RedisError`: callers back off, no decision is
ever taken on a missing answer.

Why losing Redis (restart without persistence, flush, failover to an empty replica) costs only
extra work, never wrong rows. The truth is MariaDB's rows (what GrowthExperiments serves) plus the
work topic's per-page order; Redis only lets us skip work, and an empty Redis answers "nothing
known", which means "do the work":
- Latest revision / tombstone: an empty answer makes every event look new, so ingest forwards
  stale or duplicate events too and the worker scores items it would have skipped. No wrong row
  survives, because (1) the worker's write is guarded by MariaDB itself: it does not write revision
  R when a row for a newer revision of the page exists (RecommendationStore.latest_revision), and
  ingest's invalidation deletes a page's rows only when all of them are older than the event's
  revision (same check); (2) every item of a page, including
  removal items (delete, hidden content), travels the work topic in per-page order, and the worker
  brings the page to the state of the item it handles (its row, or none below it and no tag), so a
  stale write is undone by the page's next item, which is its real latest state. The only window
  left: a page edited in both data centres (two source topics) at the moment Redis was emptied can
  have its items forwarded out of order; `addlink reconcile` finds such rows (older than the
  newest revision MariaDB or the stream knows) and repairs them.
- Titles gone: an empty answer falls back to the bundle's page table, so a stored task may name a
  page deleted after the dump. GrowthExperiments prunes red links again when it serves a task, so
  no editor sees it.
- Title -> page id: the bundle's page table answers alone, as of its dump (stream/pipeline/page_lookup.py):
  a title deleted or moved since is kept, and GrowthExperiments prunes it again at serve time.

There is no de-duplication key: a redelivered or duplicated event of an older revision is stale
(``record_revision``), and one of the current revision is processed again, which is harmless since
every write is idempotent (REPLACE by revision, delete by page, set/clear of a tag group).
"""

from __future__ import annotations

import secrets
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import redis

from scoring.titles import normalise_title
from stream.config import RedisSettings
from stream.core.page_core import PageRecord
from stream.errors import AddlinkError

# KEYS[1] page key; ARGV rev, revive ("1"/"0"), ttl. Returns 1 unless the event is stale.
_RECORD_REVISION = """
local cur = tonumber(redis.call('HGET', KEYS[1], 'rev'))
local rev = tonumber(ARGV[1])
if cur and rev < cur then return 0 end
if cur and rev == cur and redis.call('HGET', KEYS[1], 'removed') == '1' and ARGV[2] ~= '1' then
  return 0
end
redis.call('HSET', KEYS[1], 'rev', ARGV[1], 'removed', '0')
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""

# KEYS[1] page key; ARGV rev, ttl. Returns 1 unless a newer revision is already known.
_MARK_REMOVED = """
local cur = tonumber(redis.call('HGET', KEYS[1], 'rev'))
if cur and tonumber(ARGV[1]) < cur then return 0 end
redis.call('HSET', KEYS[1], 'rev', ARGV[1], 'removed', '1')
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""

# KEYS[1] title key, KEYS[2] the wiki's articles set; ARGV dt_ms, gone ("1"/"0"), page_id ("" = unknown),
# ttl, article ("1": an article now has this title), title. Returns 1 if applied, 0 if a newer event
# already decided this title.
_MARK_TITLE = """
local known = tonumber(redis.call('HGET', KEYS[1], 'dt'))
if known and tonumber(ARGV[1]) < known then return 0 end
redis.call('HSET', KEYS[1], 'dt', ARGV[1], 'gone', ARGV[2])
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], 'page_id')
else redis.call('HSET', KEYS[1], 'page_id', ARGV[3]) end
redis.call('EXPIRE', KEYS[1], ARGV[4])
if ARGV[5] == '1' then redis.call('ZADD', KEYS[2], ARGV[1], ARGV[6])
else redis.call('ZREM', KEYS[2], ARGV[6]) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (tonumber(ARGV[1]) - 1000 * tonumber(ARGV[4])))
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
"""


@dataclass(frozen=True)
class TitleRecord:
    """What the last event about a title said: its page is gone, or it exists (with its page id
    when the event named it)."""

    gone: bool
    page_id: int | None


class RedisAuthenticationFailed(AddlinkError, redis.AuthenticationError):
    """Redis rejected the configured credentials: a configuration error (the command line prints
    one line and exits 2), still a ``redis.AuthenticationError`` for code that catches the driver's."""


def connect(settings: RedisSettings) -> redis.Redis:
    """A client from the configuration (TLS when the URL is rediss://; secrets read now).

    Checks the server once: rejected credentials (RedisAuthenticationFailed) or a TLS certificate
    that fails verification (AddlinkError) stop here with a message naming Redis and the URL, never
    the password: retrying cannot help. An unreachable server is not an error here, since callers
    back off and retry until it answers.
    """
    client = _client(settings)
    try:
        client.ping()
    except (redis.AuthenticationError, redis.exceptions.NoPermissionError) as error:
        raise RedisAuthenticationFailed(f"redis at {settings.url} (user {settings.username or 'default'}): "
                                        f"authentication failed: {error}") from None
    except (redis.ConnectionError, redis.TimeoutError) as error:
        if isinstance(error.__context__, ssl.SSLCertVerificationError) or "certificate verify failed" in str(error):
            raise AddlinkError(f"redis at {settings.url}: TLS certificate verification failed: {error}") from None
    return client


def _client(settings: RedisSettings) -> redis.Redis:
    password = settings.secret("password")
    options: dict[str, object] = {
        "username": settings.username,
        "password": password.get_secret_value() if password else None,
        "socket_timeout": settings.socket_timeout_s,
        "socket_connect_timeout": settings.socket_timeout_s,
        "health_check_interval": 30,
    }
    if settings.ssl_ca_certs is not None:
        options["ssl_ca_certs"] = str(settings.ssl_ca_certs)
    return redis.Redis.from_url(settings.url, **options)


class PageState:
    """Shared state over one Redis client. Thread-safe as the client is (it pools connections)."""

    def __init__(self, client: redis.Redis, settings: RedisSettings) -> None:
        self._redis = client
        self._prefix = settings.key_prefix
        self._settings = settings
        self._record_revision = client.register_script(_RECORD_REVISION)
        self._mark_removed = client.register_script(_MARK_REMOVED)
        self._mark_title = client.register_script(_MARK_TITLE)

    # --- keys ---------------------------------------------------------------------------------

    def page_key(self, wiki: str, page_id: int) -> str:
        return f"{self._prefix}:page:{wiki}:{page_id}"

    def title_key(self, wiki: str, title: str) -> str:
        return f"{self._prefix}:title:{wiki}:{normalise_title(title)}"

    def articles_key(self, wiki: str) -> str:
        return f"{self._prefix}:articles:{wiki}"

    # --- latest revision per page ---------------------------------------------------------------

    def record_revision(self, wiki: str, page_id: int, rev_id: int, *, revive: bool = False) -> bool:
        """Note that `rev_id` is the page's current revision, atomically and never downwards.

        Returns True when the event is current: rev_id >= the highest known (a duplicate of the
        current revision is current too). False = stale, an older revision, or the same revision
        as a tombstone when not `revive` (an edit event redelivered after its page was deleted).
        `revive=True` is for undelete and for content shown again: it lifts the tombstone.
        """
        ttl = self._settings.latest_revision_ttl_s
        return bool(self._record_revision(keys=[self.page_key(wiki, page_id)], args=[rev_id, int(revive), ttl]))

    def mark_removed(self, wiki: str, page_id: int, rev_id: int) -> bool:
        """Tombstone the page at `rev_id` (deleted, or its content hidden): that revision must not be
        scored any more. False (nothing changed) if a newer revision is already known."""
        ttl = self._settings.latest_revision_ttl_s
        return bool(self._mark_removed(keys=[self.page_key(wiki, page_id)], args=[rev_id, ttl]))

    def page(self, wiki: str, page_id: int) -> PageRecord | None:
        """The page's record, or None if unknown (never seen, expired, or Redis lost its state)."""
        rev, removed = self._redis.hmget(self.page_key(wiki, page_id), ["rev", "removed"])
        if rev is None:
            return None
        return PageRecord(rev_id=int(rev), removed=removed == b"1")

    def pages(self, wiki: str, page_ids: Sequence[int]) -> dict[int, PageRecord | None]:
        """:meth:`page` for many pages in one round trip (a pipeline of HMGETs)."""
        pipe = self._redis.pipeline(transaction=False)
        for page_id in page_ids:
            pipe.hmget(self.page_key(wiki, page_id), ["rev", "removed"])
        return {page_id: None if rev is None else PageRecord(rev_id=int(rev), removed=removed == b"1")
                for page_id, (rev, removed) in zip(page_ids, pipe.execute(), strict=True)}

    def latest_rev(self, wiki: str, page_id: int) -> int | None:
        record = self.page(wiki, page_id)
        return record.rev_id if record else None

    def is_removed(self, wiki: str, page_id: int) -> bool:
        record = self.page(wiki, page_id)
        return bool(record and record.removed)

    # --- titles deleted or moved away -----------------------------------------------------------

    def mark_gone(self, wiki: str, title: str, dt: datetime) -> bool:
        """The title lost its page at `dt` (deleted, or moved away without leaving a redirect).
        False if a later event already said otherwise."""
        return self._title(wiki, title, dt, gone=True, page_id=None, article=False)

    def mark_present(self, wiki: str, title: str, dt: datetime, page_id: int | None = None, *,
                     article: bool = False) -> bool:
        """The title has a page again at `dt` (created, undeleted, moved to); ``article``: that page is
        a main-namespace article, not a redirect (it joins the wiki's new articles). False if stale."""
        return self._title(wiki, title, dt, gone=False, page_id=page_id, article=article)

    def _title(self, wiki: str, title: str, dt: datetime, *, gone: bool, page_id: int | None, article: bool) -> bool:
        args = [_millis(dt), int(gone), "" if page_id is None else page_id, self._settings.gone_title_ttl_s,
                int(article), normalise_title(title)]
        return bool(self._mark_title(keys=[self.title_key(wiki, title), self.articles_key(wiki)], args=args))

    def new_articles(self, wiki: str) -> list[str]:
        """Titles of the articles the stream saw created, undeleted or moved to (and not gone or
        turned into a redirect since), oldest first; at most ``gone_title_ttl_s`` of them."""
        return [title.decode() for title in self._redis.zrange(self.articles_key(wiki), 0, -1)]

    def is_gone(self, wiki: str, title: str) -> bool:
        return self._redis.hget(self.title_key(wiki, title), "gone") == b"1"

    def titles(self, wiki: str, titles: Iterable[str]) -> dict[str, TitleRecord]:
        """What the stream's events said last about each of the given titles (keys as given; titles
        no event decided are left out); one round trip."""
        titles = list(titles)
        with self._redis.pipeline(transaction=False) as pipe:
            for title in titles:
                pipe.hmget(self.title_key(wiki, title), ["gone", "page_id"])
            answers = pipe.execute()
        return {
            title: TitleRecord(gone=gone == b"1", page_id=None if gone == b"1" or page_id is None else int(page_id))
            for title, (gone, page_id) in zip(titles, answers, strict=True)
            if gone is not None
        }

    # --- loss detection -------------------------------------------------------------------------

    def generation(self) -> tuple[str, bool]:
        """(id of this Redis state, True if it was just created). A changed id means the state
        was lost since the caller last looked: expect stale events to be processed again."""
        key = f"{self._prefix}:generation"
        fresh = secrets.token_hex(8)
        created = bool(self._redis.set(key, fresh, nx=True))
        current = self._redis.get(key)
        return (current.decode() if current else fresh), created


def _millis(dt: datetime) -> int:
    if dt.tzinfo is None:
        raise ValueError("event times must be timezone-aware")
    return int(dt.timestamp() * 1000)
