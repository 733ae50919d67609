"""Regeneration: after a wiki's model changes, `addlink run` evaluates again the rows an older model made.

A stage of the worker role, in its own thread. Every ``regeneration.check_interval_s`` it compares
each enabled wiki's current model (its bundle's ``dataset_checksums.model``) with the wiki's walk
cursor in Redis; when they differ (a new model) or the walk is unfinished, and this process wins
the wiki's lease, it walks the wiki's data rows in page order (``stream.pipeline.outdated.walk``)
and produces a rescore work item for each row an older model made, at most ``regeneration.rate``
pages per second.

Why work items on the work topic, rather than evaluating here: the items are keyed like live items
(``WorkItem.key``), so the partition's owner handles them in order with the page's live items,
through the same handler, fence and checkpoint: at-least-once (Kafka keeps them across a crash),
compare-and-set (an item of an older revision is superseded by the page's newer item, and its write
refused by the fence), and scoring stays on the worker's budget and process, spread over the fleet
like live work. The cost: an item waits behind its partition's items still in their quiet period,
so regeneration trails the live stream by up to ``minimum_time_since_last_edit``; the old rows
stay valid recommendations meanwhile. The walk itself only reads rows and fetches text (the
MediaWiki Action API, ``pipeline.fetch_missing_content``; without it the stage does not run), in
batches of ``regeneration.batch`` items, so it never holds the live stream up.

Several processes: a wiki is walked by the holder of its lease (Redis, expiring after
``regeneration.lease_s``, renewed at every batch); a stopped process's wiki is taken over once its
lease expires. The cursor (model, last page id, done) is saved with the lease renewal, after the
batch's items were acknowledged by Kafka, so a restart resumes after the last page whose item is
safe, and a holder whose lease was taken over can no longer move the cursor. A new model restarts
the walk from the first page. A row the live stream wrote with the old model after the walk passed
its page (scored just before the switch) stays until the page's next edit or ``addlink rescore``.

Keys (prefix = ``redis.key_prefix``; no TTL on the cursor: one small hash per wiki)::

    <prefix>:regeneration:<wiki>:lease    string  owner id, PX lease_s
    <prefix>:regeneration:<wiki>:cursor   hash    model, page (last page id checked), done (0/1)
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import redis

from scoring.bundle import BundleError
from stream.config import RegenerationSettings
from stream.core.events import WorkItem
from stream.observe.metrics import Sensor
from stream.pipeline.consume_loop import is_infrastructure_error
from stream.pipeline.outdated import Pacer, Revisions, Rows, Verdict, rescore_item, walk

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cursor:
    """How far a wiki's walk got: the model it compares rows with and the last page id checked."""

    model: str
    page: int
    done: bool = False


def start_after(cursor: Cursor | None, model: str) -> int | None:
    """The page id after which ``model``'s walk goes on, None when there is nothing to walk: a new
    model (or no cursor) starts at the beginning, a finished walk of the same model is not redone."""
    if cursor is None or cursor.model != model:
        return 0
    return None if cursor.done else cursor.page


class Leases(Protocol):
    """The walks' shared state (:class:`RedisLeases`)."""

    def cursor(self, wiki: str) -> Cursor | None: ...

    def acquire(self, wiki: str, owner: str, ttl_s: float) -> bool:
        """Take the wiki's lease, or renew it when ``owner`` holds it; False when another holds it."""

    def advance(self, wiki: str, owner: str, cursor: Cursor, ttl_s: float) -> bool:
        """Save the cursor and renew the lease, only while ``owner`` holds it (False: lost)."""

    def release(self, wiki: str, owner: str) -> None: ...


class WorkSink(Protocol):
    """``stream.pipeline.ingest.WorkTopicSink``: buffers items, ``flush`` waits for Kafka's acks."""

    def add(self, item: WorkItem) -> None: ...

    def flush(self) -> object: ...


# KEYS[1] lease; ARGV owner, ttl ms. Take a free lease or renew one's own.
_ACQUIRE = """
local cur = redis.call('GET', KEYS[1])
if cur == false then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
if cur == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0
"""

# KEYS[1] lease, KEYS[2] cursor; ARGV owner, ttl ms, model, page, done.
_ADVANCE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[2], 'model', ARGV[3], 'page', ARGV[4], 'done', ARGV[5])
return 1
"""

# KEYS[1] lease; ARGV owner.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisLeases:
    """:class:`Leases` in Redis; every check-and-set is one Lua script (atomic on the server)."""

    def __init__(self, client: redis.Redis, key_prefix: str) -> None:
        self._client = client
        self._prefix = key_prefix
        self._acquire = client.register_script(_ACQUIRE)
        self._advance = client.register_script(_ADVANCE)
        self._release = client.register_script(_RELEASE)

    def _keys(self, wiki: str) -> tuple[str, str]:
        base = f"{self._prefix}:regeneration:{wiki}"
        return f"{base}:lease", f"{base}:cursor"

    def cursor(self, wiki: str) -> Cursor | None:
        raw = self._client.hgetall(self._keys(wiki)[1])
        values = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
                  for k, v in raw.items()}
        if "model" not in values:
            return None
        return Cursor(values["model"], int(values.get("page", 0)), values.get("done") == "1")

    def acquire(self, wiki: str, owner: str, ttl_s: float) -> bool:
        return bool(self._acquire(keys=[self._keys(wiki)[0]], args=[owner, int(ttl_s * 1000)]))

    def advance(self, wiki: str, owner: str, cursor: Cursor, ttl_s: float) -> bool:
        return bool(self._advance(keys=list(self._keys(wiki)),
                                  args=[owner, int(ttl_s * 1000), cursor.model, cursor.page, int(cursor.done)]))

    def release(self, wiki: str, owner: str) -> None:
        self._release(keys=[self._keys(wiki)[0]], args=[owner])


def owner_id() -> str:
    """This process's lease owner id: host, pid and a random part (a restarted pid is another owner)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass
class WalkReport:
    """One walk of a wiki: from page ``after`` to ``cursor``, and what it found."""

    wiki: str
    model: str
    after: int
    cursor: int
    done: bool = False
    lost_lease: bool = False
    verdicts: Counter[str] = field(default_factory=Counter)


class Regenerator:
    """The stage: :meth:`run` until ``stop``, one wiki walk at a time (see the module docstring).

    ``wikis``: enabled wiki id -> its domain (for the content source); ``models``: a wiki's current
    model checksum (raises BundleError when its bundle cannot be read)."""

    role = "regeneration"

    def __init__(self, *, wikis: Mapping[str, str], models: Callable[[str], str], rows: Rows, revisions: Revisions,
                 leases: Leases, work: WorkSink, sensor: Sensor, stop: threading.Event,
                 options: RegenerationSettings, owner: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._wikis = dict(wikis)
        self._models = models
        self._rows = rows
        self._revisions = revisions
        self._leases = leases
        self._work = work
        self._sensor = sensor
        self._stop = stop
        self._options = options
        self.owner = owner or owner_id()
        self._clock = clock

    def run(self, until: Callable[[], bool] | None = None) -> bool:
        """Rounds over the wikis until stopped (False) or ``until()`` holds (True). A failure is about
        one wiki's round: logged and counted, retried at the next round; the live stream goes on."""
        while not self._stop.is_set():
            if until is not None and until():
                return True
            for wiki in self._wikis:
                if self._stop.is_set():
                    break
                try:
                    self.regenerate(wiki)
                except Exception as error:  # noqa: BLE001 - never stop the live stages over regeneration
                    self._sensor.on_error("regeneration", type(error).__name__)
                    if is_infrastructure_error(error):
                        log.warning("regeneration paused by a service", extra={"wiki": wiki, "error": str(error)})
                    else:
                        log.exception("regeneration failed", extra={"wiki": wiki})
            self._stop.wait(self._options.check_interval_s)
        return False

    def regenerate(self, wiki: str) -> WalkReport | None:
        """Walk ``wiki`` if its model's walk is not done and this process gets its lease; the walk's
        report, or None when there was nothing to do here."""
        try:
            model = self._models(wiki)
        except BundleError as error:
            log.warning("regeneration: no model to compare with", extra={"wiki": wiki, "error": str(error)})
            return None
        after = start_after(self._leases.cursor(wiki), model)
        if after is None or not self._leases.acquire(wiki, self.owner, self._options.lease_s):
            return None
        report = WalkReport(wiki, model, after, after)
        try:
            self._walk(report)
            return report
        finally:
            self._sensor.on_regeneration_walk(wiki, False, report.cursor)
            try:
                self._leases.release(wiki, self.owner)
            except redis.RedisError:  # expires by itself
                pass

    def _walk(self, report: WalkReport) -> None:
        wiki, model, after = report.wiki, report.model, report.after
        log.info("regeneration walk started", extra={"wiki": wiki, "model": model, "after_page": after})
        self._sensor.on_regeneration_walk(wiki, True, after)
        pacer = Pacer(self._options.rate, clock=self._clock, sleep=self._stop.wait)
        pending = 0
        renewed = self._clock()
        completed = True
        for checked in walk(self._rows, self._revisions, wiki, self._wikis[wiki], model, after_page_id=after,
                            batch_size=max(self._options.batch, 100), pace=pacer.wait):
            if self._stop.is_set():
                completed = False  # this page was not queued: the cursor stays before it
                break
            report.verdicts[checked.verdict] += 1
            self._sensor.on_regeneration_checked(wiki, checked.verdict)
            if checked.verdict is Verdict.OUTDATED:
                assert checked.revision is not None
                self._work.add(rescore_item(wiki, self._wikis[wiki], checked.page, checked.revision,
                                            offset=checked.page.page_id))
                pending += 1
            report.cursor = checked.page.page_id
            if pending >= self._options.batch or self._clock() - renewed >= self._options.lease_s / 3:
                if not self._checkpoint(report, done=False):
                    return
                pending, renewed = 0, self._clock()
                if self._model_changed(wiki, model):
                    completed = False  # the next round walks the new model from the start
                    break
        if self._checkpoint(report, done=completed):
            report.done = completed
        log.info("regeneration walk ended" if completed else "regeneration walk paused", extra={
            "wiki": wiki, "model": model, "after_page": after, "cursor": report.cursor,
            "verdicts": dict(report.verdicts)})

    def _checkpoint(self, report: WalkReport, *, done: bool) -> bool:
        """Make the batch's items durable, then save the cursor with the lease (False: lease lost)."""
        self._work.flush()
        cursor = Cursor(report.model, report.cursor, done)
        if not self._leases.advance(report.wiki, self.owner, cursor, self._options.lease_s):
            report.lost_lease = True
            log.warning("regeneration lease lost; another process walks the wiki", extra={"wiki": report.wiki})
            return False
        self._sensor.on_regeneration_walk(report.wiki, True, report.cursor)
        return True

    def _model_changed(self, wiki: str, model: str) -> bool:
        try:
            return self._models(wiki) != model
        except BundleError:
            return False

