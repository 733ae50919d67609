"""GrowthExperiments' link-recommendation tables in MariaDB (the only module that imports pymysql).

Storage is exactly what GrowthExperiments reads (reference growthexperiments.md §3):
``growthexperiments_link_recommendations`` (one row per revision, JSON in ``gelr_data``, NULL =
"evaluated, nothing usable") and ``growthexperiments_link_submissions`` (reviewers' feedback,
written by MediaWiki, read here). Both are created with GrowthExperiments' exact MySQL DDL and
MediaWiki's default table options when missing. Beside them, one table of ours that MediaWiki never
reads, ``addlink_page_freshness`` (page id -> freshest revision, removed flag): the fence that makes
:class:`~sinks.base.PageWrite` compare-and-set (see :meth:`RecommendationStore.flush`). It holds one
small row per page ever written; losing it loses only the guard for writes already in flight.

Where the tables live: one database per wiki named after the wiki id, as on Wikimedia's x1
cluster (``per_wiki_database=True``, the default; a wiki may name another database), or every
wiki in one shared database. Databases are created if missing.

Guarantees
- Writes are buffered; ``flush()`` runs them in order in ONE transaction and commits: when it
  returns, every row is durable ("commit now"). Call it before writing any tag, so no tag ever
  exists without its committed row.
- Every write is idempotent: ``replace`` is ``REPLACE`` keyed by revision; a NULL row is only
  inserted when the revision has no row yet (never NULL over data, GrowthExperiments never does
  either: its ``already_stored`` check comes first); ``delete_page`` removes every row of a page;
  a ``PageWrite`` lands only while its revision is the page's freshest.
- Reads see committed data (READ COMMITTED). ``row_state`` and ``latest_revision`` also apply this
  store's unflushed writes on top (read-your-writes: a caller deciding on a page sees its own pending
  delete or replace); the other reads (``stored_data``, ``has_submission``, ``link_edit_revisions``,
  ``rejected_targets`` and the reconcile listings) see committed rows only.
- Revision and page ids must fit ``INT UNSIGNED`` (1..2^32-1) like GrowthExperiments' columns;
  anything else raises ValueError before touching the database (the caller makes it an error event).
- All values are bound parameters. Database and table names cannot be: they are checked against
  ``[A-Za-z0-9_]{1,64}`` and back-quoted.
- A lost connection, a read-only or overloaded server, a deadlock or lock timeout raises
  :class:`TransientSinkError` (a reused connection that turns out dead is reopened once first);
  anything else raises :class:`SinkError`. Nothing is swallowed.
- Thread-safe: calls are serialized on one connection.

Rejected targets: ``gels_target`` is a PAGE ID, while recommendations name targets by title, and
the x1 databases hold no page table to join with. :meth:`RecommendationStore.rejected_targets`
returns the ids; the caller maps each candidate title to a page id (the stream keeps title -> id
in its shared state from the page events it sees; the model bundle's title -> page id table can
fill the gaps) and drops links whose id is in the set. A title it cannot resolve is kept:
GrowthExperiments prunes rejected targets again at serve time with the live page table, so a miss
costs at most one link the editor never sees.
"""

from __future__ import annotations

import re
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import groupby
from typing import Any, TypeVar

import pymysql
from pymysql.connections import Connection

from sinks.base import (
    Fence,
    FlushResult,
    Freshness,
    PageWrite,
    Sink,
    SinkError,
    TransientSinkError,
    validate_wiki_id,
)

RECOMMENDATIONS = "growthexperiments_link_recommendations"
SUBMISSIONS = "growthexperiments_link_submissions"
TABLE_OPTIONS = "ENGINE=InnoDB, DEFAULT CHARSET=binary"
"""MediaWiki's default ``$wgDBTableOptions`` (what ``/*$wgDBTableOptions*/`` expands to)."""

# GrowthExperiments sql/mysql/*.sql, verbatim apart from the table name.
_DDL = {
    RECOMMENDATIONS: """CREATE TABLE {table} (
  gelr_revision INT UNSIGNED NOT NULL,
  gelr_page INT UNSIGNED NOT NULL,
  gelr_data MEDIUMBLOB DEFAULT NULL,
  INDEX gelr_page (gelr_page),
  PRIMARY KEY(gelr_revision)
) {options}""",
    SUBMISSIONS: """CREATE TABLE {table} (
  gels_revision INT UNSIGNED NOT NULL,
  gels_anchor_offset INT UNSIGNED NOT NULL,
  gels_target INT UNSIGNED NOT NULL,
  gels_page INT UNSIGNED NOT NULL,
  gels_edit_revision INT UNSIGNED DEFAULT NULL,
  gels_user INT UNSIGNED NOT NULL,
  gels_anchor_length INT UNSIGNED NOT NULL,
  gels_feedback VARCHAR(1) NOT NULL,
  INDEX gels_page_feedback_target (gels_page, gels_feedback, gels_target),
  PRIMARY KEY(gels_revision, gels_target, gels_anchor_offset)
) {options}""",
}

FRESHNESS = "addlink_page_freshness"
"""Our own table beside GrowthExperiments' (which never reads it): the compare-and-set fence."""
_FRESHNESS_DDL = """CREATE TABLE {table} (
  apf_page INT UNSIGNED NOT NULL,
  apf_rev INT UNSIGNED NOT NULL,
  apf_removed TINYINT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY(apf_page)
) {options}"""

MAX_DATA_BYTES = 16_777_215  # MEDIUMBLOB
REJECTION_EXCLUSION_LIMIT = 2  # LinkRecommendationTaskType::REJECTION_EXCLUSION_LIMIT
_MAX_ID = 2**32 - 1  # INT UNSIGNED
_IDENTIFIER = re.compile(r"^[A-Za-z0-9_]{1,64}$")

# Server/client error codes that mean "try again later".
_TRANSIENT_CODES = frozenset({
    1040,  # too many connections
    1053,  # server shutdown in progress
    1205,  # lock wait timeout
    1213,  # deadlock
    1290,  # --read-only
    1836,  # read-only mode
    1927,  # connection killed
    2002, 2003,  # cannot connect
    2006, 2013, 2055,  # server gone away / lost connection
    4031,  # disconnected for inactivity
})
_CONNECTION_LOST = frozenset({2006, 2013, 2055, 4031})
# Refusals that retrying cannot fix: access denied, TLS required but impossible.
_PERMANENT_CODES = frozenset({1044, 1045, 1142, 1227, 1698, 2026})


class RowState(StrEnum):
    """State of a revision in the recommendations table (GE getRecommendationStateByRevision)."""

    NONE = "none"  # never evaluated
    DATA = "data"  # a recommendation is stored
    NULL = "null"  # evaluated, nothing usable


@dataclass(frozen=True)
class ReplaceRow:
    """Store ``data`` (gelr_data JSON bytes) for a revision; ``None`` = the NULL row."""

    wiki_id: str
    page_id: int
    rev_id: int
    data: bytes | None


@dataclass(frozen=True)
class DeletePage:
    """Delete every row (all revisions, NULL rows too) of a page, or only those below ``below``."""

    wiki_id: str
    page_id: int
    below: int | None = None


RowWrite = ReplaceRow | DeletePage | PageWrite


@dataclass(frozen=True)
class StoredPage:
    """A page with at least one data row: its newest such revision and how many it has."""

    page_id: int
    rev_id: int
    data_rows: int


@dataclass(frozen=True)
class MariaDBOptions:
    """Connection and layout. ``password`` and TLS files come from the caller's secret handling."""

    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "root"
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ssl_ca: str | None = None
    ssl_cert: str | None = None
    ssl_key: str | None = None
    ssl_verify_identity: bool = True
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    write_timeout: float = 30.0
    per_wiki_database: bool = True
    shared_database: str | None = None
    databases: Mapping[str, str] = field(default_factory=dict)
    """Per-wiki database names overriding the wiki id (per-wiki layout only)."""

    def database_for(self, wiki_id: str) -> str:
        validate_wiki_id(wiki_id)
        if self.per_wiki_database:
            name = self.databases.get(wiki_id, wiki_id)
        elif self.shared_database:
            name = self.shared_database
        else:
            raise SinkError("mariadb: per_wiki_database is off but no shared database is configured")
        return _identifier(name)

    def ssl_context(self) -> ssl.SSLContext | None:
        if not (self.tls or self.ssl_ca or self.ssl_cert):
            return None
        context = ssl.create_default_context(cafile=self.ssl_ca)
        context.check_hostname = self.ssl_verify_identity
        if self.ssl_cert:
            context.load_cert_chain(self.ssl_cert, self.ssl_key)
        return context


def _identifier(name: str) -> str:
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return name


def _check_id(what: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= _MAX_ID:
        raise ValueError(f"{what} must be an int in 1..{_MAX_ID}, got {value!r}")
    return value


def _check_data(data: bytes | None) -> None:
    if data is not None:
        if not isinstance(data, bytes):
            raise ValueError("gelr_data must be bytes (UTF-8 JSON) or None")
        if len(data) > MAX_DATA_BYTES:
            raise ValueError(f"gelr_data of {len(data)} bytes exceeds MEDIUMBLOB")


def _translate(exc: BaseException) -> SinkError:
    """Map a driver failure onto the sink error tree, keeping the server's message."""
    if isinstance(exc, SinkError):
        return exc
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    message = f"mariadb: {exc}"
    if code in _PERMANENT_CODES or _certificate_refused(exc):
        return SinkError(message)
    transient_kinds = (pymysql.err.OperationalError, pymysql.err.InterfaceError, OSError)
    if code in _TRANSIENT_CODES or isinstance(exc, transient_kinds):
        return TransientSinkError(message)
    return SinkError(message)


def _certificate_refused(exc: BaseException) -> bool:
    """The server's certificate failed verification: a configuration error, not an outage to wait out."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _connection_lost(exc: BaseException) -> bool:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    return code in _CONNECTION_LOST or isinstance(exc, pymysql.err.InterfaceError)


R = TypeVar("R")

# Raise a page's fence to a write's revision. Same revision: a removal tombstones, a revive lifts
# the tombstone, a current write leaves it as it is. (``apf_removed`` is assigned before ``apf_rev``,
# so it compares against the old revision.)
_RAISE_FENCE_HEAD = ("INSERT INTO {table} (apf_page, apf_rev, apf_removed) VALUES (%s, %s, %s) ON DUPLICATE KEY UPDATE"
                     " apf_removed = IF(VALUES(apf_rev) > apf_rev, VALUES(apf_removed), IF(VALUES(apf_rev) = apf_rev, ")
_RAISE_FENCE_TAIL = ", apf_removed)), apf_rev = GREATEST(apf_rev, VALUES(apf_rev))"
_RAISE_FENCE = {
    Freshness.CURRENT: _RAISE_FENCE_HEAD + "apf_removed" + _RAISE_FENCE_TAIL,
    Freshness.REVIVE: _RAISE_FENCE_HEAD + "0" + _RAISE_FENCE_TAIL,
    Freshness.REMOVED: _RAISE_FENCE_HEAD + "1" + _RAISE_FENCE_TAIL,
}


def _primitives(write: PageWrite) -> list[ReplaceRow | DeletePage]:
    ops: list[ReplaceRow | DeletePage] = []
    if write.delete_below is not None:
        ops.append(DeletePage(write.wiki_id, write.page_id, below=write.delete_below))
    if write.write_row:
        ops.append(ReplaceRow(write.wiki_id, write.page_id, write.rev_id, write.data))
    return ops


class _Buffer:
    """Buffered row writes in order, each page's primitives indexed, so that a read of one page's
    pending writes (read-your-writes) costs that page's writes, not the whole buffer: scanning every
    buffered write per read made a checkpoint interval quadratic (bench stream: a quarter of the
    pipeline's Python time). Not thread-safe: the store holds its lock around every call."""

    def __init__(self) -> None:
        self.ops: list[RowWrite] = []
        self._by_page: dict[tuple[str, int], list[tuple[int, ReplaceRow | DeletePage]]] = {}
        self._pages_of_revision: dict[tuple[str, int], set[int]] = {}
        self._added = 0

    def add(self, op: RowWrite) -> None:
        self.ops.append(op)
        for primitive in _primitives(op) if isinstance(op, PageWrite) else [op]:
            self._by_page.setdefault((primitive.wiki_id, primitive.page_id), []).append((self._added, primitive))
            if isinstance(primitive, ReplaceRow):
                self._pages_of_revision.setdefault((primitive.wiki_id, primitive.rev_id), set()).add(primitive.page_id)
            self._added += 1

    def drop_first(self, count: int) -> None:
        """Forget the ``count`` oldest writes (flushed)."""
        rest = self.ops[count:]
        self.clear()
        for op in rest:
            self.add(op)

    def clear(self) -> None:
        self.ops.clear()
        self._by_page.clear()
        self._pages_of_revision.clear()

    def pages_of_revision(self, wiki_id: str, rev_id: int) -> set[int]:
        """Pages that pending writes give a row of the revision."""
        return self._pages_of_revision.get((wiki_id, rev_id), set())

    def page_ops(self, wiki_id: str, pages: set[int]) -> list[ReplaceRow | DeletePage]:
        """The pending primitives of these pages, in the order they will apply."""
        entries = [entry for page in pages for entry in self._by_page.get((wiki_id, page), ())]
        return [op for _, op in sorted(entries, key=lambda entry: entry[0])]


@dataclass(frozen=True)
class _Committed:
    """Committed facts of one wiki's pages and revisions, read together by
    :meth:`RecommendationStore.prefetch` (what the per-item reads would each have asked)."""

    wiki_id: str
    pages: frozenset[int]
    revisions: frozenset[int]
    latest: Mapping[int, int]  # page -> highest committed gelr_revision
    rows: Mapping[int, tuple[int, bool]]  # revision -> (page, gelr_data IS NULL)
    submitted: frozenset[int]  # revisions with a submission
    link_edits: Mapping[int, frozenset[int]]  # page -> gels_edit_revision values
    rejected: Mapping[int, frozenset[int]]  # page -> targets rejected at least REJECTION_EXCLUSION_LIMIT times

    def has_page(self, wiki_id: str, page_id: int) -> bool:
        return wiki_id == self.wiki_id and page_id in self.pages

    def has_revision(self, wiki_id: str, rev_id: int) -> bool:
        return wiki_id == self.wiki_id and rev_id in self.revisions


def _committed(wiki_id: str, pages: frozenset[int], revisions: frozenset[int],
               answer: Sequence[tuple[Any, ...]]) -> _Committed:
    """Sort the rows of :meth:`RecommendationStore.prefetch`'s query (``kind, page, revision, a, b, c``)."""
    latest: dict[int, int] = {}
    rows: dict[int, tuple[int, bool]] = {}
    submitted: set[int] = set()
    link_edits: dict[int, set[int]] = {}
    rejections: Counter[tuple[int, int]] = Counter()
    for kind, page, revision, a, b, c in answer:
        page, revision = int(page), int(revision)
        if kind == 0:
            latest[page] = revision
        elif kind == 1:
            rows[revision] = (page, bool(a))
        else:  # a submission: a = gels_edit_revision, b = gels_target, c = rejected (gels_feedback = 'r')
            submitted.add(revision)
            if a is not None:
                link_edits.setdefault(page, set()).add(int(a))
            if c:
                rejections[(page, int(b))] += 1
    rejected: dict[int, set[int]] = {}
    for (page, target), count in rejections.items():
        if count >= REJECTION_EXCLUSION_LIMIT:
            rejected.setdefault(page, set()).add(target)
    return _Committed(wiki_id, pages, revisions, latest, rows, frozenset(submitted),
                      {page: frozenset(ids) for page, ids in link_edits.items()},
                      {page: frozenset(ids) for page, ids in rejected.items()})


class RecommendationStore(Sink[RowWrite]):
    """Reads and buffered writes of the GrowthExperiments tables (see the module docstring)."""

    name = "mariadb"

    def __init__(self, options: MariaDBOptions | None = None,
                 on_failure: Callable[[RowWrite, str], None] | None = None) -> None:
        self.options = options or MariaDBOptions()
        self._on_failure = on_failure
        self._conn: Connection | None = None
        self._lock = threading.RLock()
        self._buffer = _Buffer()
        self._ensured: set[str] = set()
        self._prefetched: list[_Committed] = []

    # ------------------------------------------------------------------ schema

    def table(self, wiki_id: str, table: str = RECOMMENDATIONS) -> str:
        """Back-quoted ``database.table`` for a wiki."""
        return f"`{self.options.database_for(wiki_id)}`.`{_identifier(table)}`"

    def ensure_schema(self, wiki_id: str) -> None:
        """Create the wiki's database and both tables if missing (exact GE DDL); idempotent.

        Only looks at ``information_schema`` when everything exists, so an account without
        CREATE privileges works against tables MediaWiki already created.
        """
        database = self.options.database_for(wiki_id)
        with self._lock:
            if database in self._ensured:
                return

            def create(conn: Connection) -> None:
                with conn.cursor() as cur:
                    cur.execute("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (database,))
                    if not cur.fetchone():
                        cur.execute(f"CREATE DATABASE IF NOT EXISTS `{database}`")
                    cur.execute(
                        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
                        (database,),
                    )
                    existing = {row[0] for row in cur.fetchall()}
                    for name, ddl in (*_DDL.items(), (FRESHNESS, _FRESHNESS_DDL)):
                        if name not in existing:
                            cur.execute(ddl.format(table=f"`{database}`.`{name}`", options=TABLE_OPTIONS))

            self._run(create)
            self._ensured.add(database)

    def drop_schema(self, wiki_id: str) -> None:
        """DESTROYS the wiki's GrowthExperiments data: benchmarks and tests only.

        Per-wiki layout: drops the wiki's database; shared layout: drops the shared tables (ours
        too), with every wiki's rows in them.
        """
        database = self.options.database_for(wiki_id)

        def drop(conn: Connection) -> None:
            with conn.cursor() as cur:
                if self.options.per_wiki_database:
                    cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
                else:
                    cur.execute(f"DROP TABLE IF EXISTS `{database}`.`{RECOMMENDATIONS}`, `{database}`.`{SUBMISSIONS}`,"
                                f" {self.table(wiki_id, FRESHNESS)}")

        with self._lock:
            self._run(drop)
            self._ensured.discard(database)

    # ------------------------------------------------------------------ writes (buffered)

    def add(self, item: RowWrite) -> None:
        validate_wiki_id(item.wiki_id)
        _check_id("page_id", item.page_id)
        if isinstance(item, ReplaceRow):
            _check_id("rev_id", item.rev_id)
            _check_data(item.data)
        elif isinstance(item, PageWrite):
            _check_id("rev_id", item.rev_id)
            _check_data(item.data)
        elif not isinstance(item, DeletePage):
            raise ValueError(f"not a row write: {item!r}")
        with self._lock:
            self._buffer.add(item)

    def replace(self, wiki_id: str, page_id: int, rev_id: int, data: bytes | None) -> None:
        """Buffer ``REPLACE`` of the revision's row; ``data=None`` buffers the NULL row."""
        self.add(ReplaceRow(wiki_id, page_id, rev_id, data))

    def delete_page(self, wiki_id: str, page_id: int) -> None:
        """Buffer deletion of all rows of the page; the count is in the flush result."""
        self.add(DeletePage(wiki_id, page_id))

    def write_page(self, write: PageWrite) -> None:
        """Buffer a compare-and-set write of the page (see :meth:`flush`)."""
        self.add(write)

    @property
    def pending(self) -> int:
        return len(self._buffer.ops)

    def flush(self) -> FlushResult:
        """Run every buffered write in order in one transaction and COMMIT.

        Compare-and-set of :class:`PageWrite`: first, in the same transaction, each page's fence
        row (``addlink_page_freshness``) is raised to the write's revision (``INSERT ... ON
        DUPLICATE KEY UPDATE``, which takes the row's exclusive lock until COMMIT), then read back;
        a write whose revision is no longer the fence's is dropped (outcome ``stale``). Every
        writer of a page (ingest's invalidation, the worker's row, a rescore) takes that same row
        lock first, so their transactions on one page are serialised, and whichever commits second
        sees the other's revision: an older revision's row can never land after a newer revision's
        invalidation, whichever process wrote it and however long it sat in a buffer. Fences are
        locked in page id order, so two flushes cannot deadlock on them.

        Outcomes: ``replaced`` (data rows written), ``null_rows`` (NULL rows requested),
        ``pages_deleted``, ``rows_deleted``, ``stale`` and ``failed``. On failure the transaction
        is rolled back, the buffer kept, and the error raised; except, with ``on_failure``, a
        refusal no retry fixes (SQL, data or schema error): then the writes are retried one page
        per transaction and only the refused page's writes go to ``on_failure``.
        """
        started = time.monotonic()
        with self._lock:
            self._prefetched.clear()  # this flush changes what is committed
            ops = list(self._buffer.ops)
            if not ops:
                return self._timed(self.name, 0, started, {})
            try:
                outcomes = self._write_all(ops)
            except SinkError as error:
                if isinstance(error, TransientSinkError) or self._on_failure is None:
                    raise
                outcomes = self._write_page_by_page(ops)
            self._buffer.drop_first(len(ops))
        return self._timed(self.name, len(ops), started, outcomes)

    def _write_all(self, ops: Sequence[RowWrite]) -> dict[str, int]:
        for wiki_id in sorted({op.wiki_id for op in ops}):
            self.ensure_schema(wiki_id)
        return self._run(lambda conn: self._write(conn, ops))

    def _write_page_by_page(self, ops: Sequence[RowWrite]) -> dict[str, int]:
        """After a refusal no retry fixes: each page's writes in their own transaction, so the
        refused page is isolated (handed to ``on_failure``, outcome ``failed``) and every other
        page is written. A transient error still raises; re-running committed pages is idempotent."""
        pages: dict[tuple[str, int], list[RowWrite]] = {}
        for op in ops:
            pages.setdefault((op.wiki_id, op.page_id), []).append(op)
        outcomes: Counter[str] = Counter(failed=0)
        for page_ops in pages.values():
            try:
                outcomes.update(self._write_all(page_ops))
            except SinkError as error:
                if isinstance(error, TransientSinkError) or self._on_failure is None:
                    raise
                for op in page_ops:
                    self._on_failure(op, str(error))
                outcomes["failed"] += len(page_ops)
        return dict(outcomes)

    def _write(self, conn: Connection, ops: Sequence[RowWrite]) -> dict[str, int]:
        outcomes = {"replaced": 0, "null_rows": 0, "pages_deleted": 0, "rows_deleted": 0, "stale": 0}
        conn.begin()
        try:
            with conn.cursor() as cur:
                fences = self._raise_fences(cur, [op for op in ops if isinstance(op, PageWrite)])
                primitive: list[ReplaceRow | DeletePage] = []
                for op in ops:
                    if not isinstance(op, PageWrite):
                        primitive.append(op)
                    elif fences[(op.wiki_id, op.page_id)].admits(op.rev_id, removal=op.freshness is Freshness.REMOVED):
                        primitive.extend(_primitives(op))
                    else:
                        outcomes["stale"] += 1
                # Runs of the same statement on the same table become one executemany (REPLACE and
                # INSERT turn into one multi-row statement); order between runs is kept.
                for (kind, wiki_id), run in groupby(primitive, key=self._statement_of):
                    batch = list(run)
                    table = self.table(wiki_id)
                    if kind == "replace":
                        cur.executemany(
                            f"REPLACE INTO {table} (gelr_revision, gelr_page, gelr_data) VALUES (%s, %s, %s)",
                            [(op.rev_id, op.page_id, op.data) for op in batch],
                        )
                        outcomes["replaced"] += len(batch)
                    elif kind == "null":
                        cur.executemany(
                            f"INSERT INTO {table} (gelr_revision, gelr_page, gelr_data) VALUES (%s, %s, NULL)"
                            " ON DUPLICATE KEY UPDATE gelr_revision = gelr_revision",
                            [(op.rev_id, op.page_id) for op in batch],
                        )
                        outcomes["null_rows"] += len(batch)
                    else:
                        for op in batch:
                            if op.below is None:
                                deleted = cur.execute(f"DELETE FROM {table} WHERE gelr_page = %s", (op.page_id,))
                            else:
                                deleted = cur.execute(f"DELETE FROM {table} WHERE gelr_page = %s"
                                                      " AND gelr_revision < %s", (op.page_id, op.below))
                            outcomes["rows_deleted"] += deleted
                        outcomes["pages_deleted"] += len(batch)
            conn.commit()
        except BaseException:
            self._rollback(conn)
            raise
        return outcomes

    def _raise_fences(self, cur: Any, writes: Sequence[PageWrite]) -> dict[tuple[str, int], Fence]:
        """Raise (and lock) each written page's fence in page id order, then read the fences back."""
        fences: dict[tuple[str, int], Fence] = {}
        ordered = sorted(writes, key=lambda w: (w.wiki_id, w.page_id))  # stable: a page's writes keep their order
        for (wiki_id, freshness), run in groupby(ordered, key=lambda w: (w.wiki_id, w.freshness)):
            cur.executemany(_RAISE_FENCE[freshness].format(table=self.table(wiki_id, FRESHNESS)),
                            [(w.page_id, w.rev_id, int(freshness is Freshness.REMOVED)) for w in run])
        for wiki_id, run in groupby(ordered, key=lambda w: w.wiki_id):
            pages = sorted({w.page_id for w in run})
            cur.execute(f"SELECT apf_page, apf_rev, apf_removed FROM {self.table(wiki_id, FRESHNESS)}"
                        f" WHERE apf_page IN ({', '.join(['%s'] * len(pages))})", pages)
            for page_id, rev_id, removed in cur.fetchall():
                fences[(wiki_id, int(page_id))] = Fence(int(rev_id), bool(removed))
        return fences

    def fences(self, wiki_id: str, page_ids: Sequence[int]) -> dict[int, Fence]:
        """The committed fences of these pages (pages never written through :class:`PageWrite`
        are absent). Read by the tag sinks just before they write (see sinks/elasticsearch.py)."""
        ids = sorted({_check_id("page_id", page_id) for page_id in page_ids})
        if not ids:
            return {}
        rows = self._select(wiki_id, f"SELECT apf_page, apf_rev, apf_removed FROM {self.table(wiki_id, FRESHNESS)}"
                            f" WHERE apf_page IN ({', '.join(['%s'] * len(ids))})", tuple(ids))
        return {int(page_id): Fence(int(rev_id), bool(removed)) for page_id, rev_id, removed in rows}

    @staticmethod
    def _statement_of(op: RowWrite) -> tuple[str, str]:
        if isinstance(op, DeletePage):
            return ("delete", op.wiki_id)
        return ("replace" if op.data is not None else "null", op.wiki_id)

    # ------------------------------------------------------------------ reads

    def prefetch(self, batch: Mapping[str, tuple[Sequence[int], Sequence[int]]]) -> None:
        """Read the committed facts the per-item reads below ask about each wiki's ``(page ids,
        revision ids)`` (latest revision, row state, submissions), one query per wiki, for a poll
        batch; those reads then answer from it, with this store's buffered writes laid over as
        always, until the next :meth:`flush`, :meth:`discard` or ``prefetch`` (an empty ``batch``
        forgets it). Pages or revisions not named are read as before.

        The answers are as of this call rather than of each read: the same race any read has with
        another process' commit, which the fence settles at write time (see :meth:`flush`)."""
        known = [self._read_committed(wiki_id, page_ids, rev_ids) for wiki_id, (page_ids, rev_ids) in batch.items()]
        with self._lock:
            self._prefetched = known

    def _read_committed(self, wiki_id: str, page_ids: Sequence[int], rev_ids: Sequence[int]) -> _Committed:
        pages = frozenset(_check_id("page_id", page_id) for page_id in page_ids)
        revisions = frozenset(_check_id("rev_id", rev_id) for rev_id in rev_ids)
        page_list, rev_list = sorted(pages) or [0], sorted(revisions) or [0]  # 0: no such id, keeps IN () valid
        in_pages = ", ".join(["%s"] * len(page_list))
        in_revs = ", ".join(["%s"] * len(rev_list))
        answer = self._select(
            wiki_id,
            f"SELECT 0, gelr_page, MAX(gelr_revision), NULL, NULL, NULL FROM {self.table(wiki_id)}"
            f" WHERE gelr_page IN ({in_pages}) GROUP BY gelr_page"
            f" UNION ALL SELECT 1, gelr_page, gelr_revision, gelr_data IS NULL, NULL, NULL FROM {self.table(wiki_id)}"
            f" WHERE gelr_revision IN ({in_revs})"
            f" UNION ALL SELECT 2, gels_page, gels_revision, gels_edit_revision, gels_target, gels_feedback = %s"
            f" FROM {self.table(wiki_id, SUBMISSIONS)} WHERE gels_page IN ({in_pages}) OR gels_revision IN ({in_revs})",
            (*page_list, *rev_list, "r", *page_list, *rev_list),
        )
        return _committed(wiki_id, pages, revisions, answer)

    def _known(self, wiki_id: str, *, page_id: int | None = None, rev_id: int | None = None) -> _Committed | None:
        """The prefetched facts holding this page or revision, if any."""
        with self._lock:
            for known in self._prefetched:
                if (known.has_page(wiki_id, page_id) if page_id is not None
                        else rev_id is not None and known.has_revision(wiki_id, rev_id)):
                    return known
        return None

    def row_state(self, wiki_id: str, rev_id: int) -> RowState:
        """none / data / null for the revision: the committed row as this store's buffered writes
        will leave it (read-your-writes: a caller deciding on the page sees its own pending delete)."""
        known = self._known(wiki_id, rev_id=rev_id)
        if known is not None:
            row = known.rows.get(rev_id)
            rows: Sequence[tuple[Any, ...]] = [row] if row is not None else []
        else:
            rows = self._select(
                wiki_id,
                f"SELECT gelr_page, gelr_data IS NULL FROM {self.table(wiki_id)} WHERE gelr_revision = %s",
                (_check_id("rev_id", rev_id),),
            )
        page = int(rows[0][0]) if rows else None
        state = RowState.NONE if not rows else RowState.NULL if rows[0][1] else RowState.DATA
        for op in self._pending_ops(wiki_id, rev_id=rev_id, committed_page=page):
            if isinstance(op, ReplaceRow) and op.rev_id == rev_id:
                if op.data is not None:
                    page, state = op.page_id, RowState.DATA
                elif state is RowState.NONE:  # a NULL row never replaces an existing row
                    page, state = op.page_id, RowState.NULL
            elif isinstance(op, DeletePage) and op.page_id == page and (op.below is None or rev_id < op.below):
                state = RowState.NONE
        return state

    def stored_data(self, wiki_id: str, rev_id: int) -> bytes | None:
        """The committed `gelr_data` of the revision (None for no row or a NULL row)."""
        rows = self._select(
            wiki_id,
            f"SELECT gelr_data FROM {self.table(wiki_id)} WHERE gelr_revision = %s",
            (_check_id("rev_id", rev_id),),
        )
        return bytes(rows[0][0]) if rows and rows[0][0] is not None else None

    def has_submission(self, wiki_id: str, rev_id: int) -> bool:
        """True if reviewers submitted feedback on a recommendation for this revision."""
        known = self._known(wiki_id, rev_id=rev_id)
        if known is not None:
            return rev_id in known.submitted
        rows = self._select(
            wiki_id,
            f"SELECT 1 FROM {self.table(wiki_id, SUBMISSIONS)} WHERE gels_revision = %s LIMIT 1",
            (_check_id("rev_id", rev_id),),
        )
        return bool(rows)

    def latest_revision(self, wiki_id: str, page_id: int) -> int | None:
        """Highest revision with a row (data or NULL) for the page, None if it has none; buffered
        writes included, as in :meth:`row_state`."""
        known = self._known(wiki_id, page_id=page_id)
        if known is not None:
            latest = known.latest.get(page_id)
        else:
            rows = self._select(
                wiki_id,
                f"SELECT MAX(gelr_revision) FROM {self.table(wiki_id)} WHERE gelr_page = %s",
                (_check_id("page_id", page_id),),
            )
            latest = int(rows[0][0]) if rows and rows[0][0] is not None else None
        for op in self._pending_ops(wiki_id, page_id=page_id):
            if isinstance(op, DeletePage):
                if op.below is None or (latest is not None and latest < op.below):
                    latest = None  # the highest row is deleted, so is every lower one
            else:
                latest = op.rev_id if latest is None else max(latest, op.rev_id)
        return latest

    def _pending_ops(self, wiki_id: str, *, page_id: int | None = None, rev_id: int | None = None,
                     committed_page: int | None = None) -> list[ReplaceRow | DeletePage]:
        """Buffered writes of a page (``page_id``), or of every page a row of ``rev_id`` may be on (its
        committed page, and those pending writes give it), as they will apply if admitted (the fence is
        not consulted)."""
        with self._lock:
            pages = {page_id} if page_id is not None else set()
            if rev_id is not None:
                pages |= self._buffer.pages_of_revision(wiki_id, rev_id)
            if committed_page is not None:
                pages.add(committed_page)
            return self._buffer.page_ops(wiki_id, pages)

    def link_edit_revisions(self, wiki_id: str, page_id: int) -> frozenset[int]:
        """Revisions an accepted Add-a-Link submission created on the page (``gels_edit_revision``)."""
        known = self._known(wiki_id, page_id=page_id)
        if known is not None:
            return known.link_edits.get(page_id, frozenset())
        rows = self._select(
            wiki_id,
            f"SELECT DISTINCT gels_edit_revision FROM {self.table(wiki_id, SUBMISSIONS)}"
            " WHERE gels_page = %s AND gels_edit_revision IS NOT NULL",
            (_check_id("page_id", page_id),),
        )
        return frozenset(int(row[0]) for row in rows)

    def rejected_targets(self, wiki_id: str, page_id: int) -> frozenset[int]:
        """PAGE IDS of targets rejected at least twice on the page (GE's exclusion list)."""
        known = self._known(wiki_id, page_id=page_id)
        if known is not None:
            return known.rejected.get(page_id, frozenset())
        rows = self._select(
            wiki_id,
            f"SELECT gels_target FROM {self.table(wiki_id, SUBMISSIONS)}"
            " WHERE gels_page = %s AND gels_feedback = %s GROUP BY gels_target HAVING COUNT(*) >= %s",
            (_check_id("page_id", page_id), "r", REJECTION_EXCLUSION_LIMIT),
        )
        return frozenset(int(row[0]) for row in rows)

    def pages_with_data(
        self, wiki_id: str, *, batch_size: int = 500, after_page_id: int = 0
    ) -> Iterator[StoredPage]:
        """Every page with a data row, in page id order, one short query per batch.

        Safe while the consumer writes: each batch reads committed rows after the last page id
        seen, so a page changed meanwhile is reported as it is when its batch is read.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        table = self.table(wiki_id)
        last = after_page_id
        while True:
            rows = self._select(
                wiki_id,
                f"SELECT gelr_page, MAX(gelr_revision), COUNT(*) FROM {table}"
                " WHERE gelr_data IS NOT NULL AND gelr_page > %s"
                " GROUP BY gelr_page ORDER BY gelr_page LIMIT %s",
                (last, batch_size),
            )
            for page_id, rev_id, count in rows:
                yield StoredPage(int(page_id), int(rev_id), int(count))
            if len(rows) < batch_size:
                return
            last = int(rows[-1][0])

    def rows_with_data(self, wiki_id: str) -> int:
        """The number of rows holding a recommendation (gelr_data not NULL): a backfill's check."""
        rows = self._select(wiki_id, f"SELECT COUNT(*) FROM {self.table(wiki_id)} WHERE gelr_data IS NOT NULL", ())
        return int(rows[0][0])

    def page_rows(self, wiki_id: str, page_ids: Sequence[int]) -> dict[int, dict[int, bool]]:
        """Every row of the given pages: page id -> {revision id -> gelr_data is not NULL}.

        One query; pages without rows are absent from the answer. For reconcile.
        """
        ids = [_check_id("page_id", page_id) for page_id in page_ids]
        if not ids:
            return {}
        marks = ", ".join(["%s"] * len(ids))
        rows = self._select(
            wiki_id,
            f"SELECT gelr_page, gelr_revision, gelr_data IS NOT NULL FROM {self.table(wiki_id)}"
            f" WHERE gelr_page IN ({marks})",
            tuple(ids),
        )
        pages: dict[int, dict[int, bool]] = {}
        for page_id, rev_id, has_data in rows:
            pages.setdefault(int(page_id), {})[int(rev_id)] = bool(has_data)
        return pages

    def rows_by_page(
        self, wiki_id: str, *, batch_size: int = 500, after_page_id: int = 0
    ) -> Iterator[dict[int, dict[int, bool]]]:
        """Every page with any row (data or NULL), ``batch_size`` pages at a time in page id
        order, each batch as :meth:`page_rows` gives it. Two short queries per batch, so a whole
        wiki is never held in memory; rows written meanwhile are seen as they are when their
        batch is read (same consistency as :meth:`pages_with_data`)."""
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        table = self.table(wiki_id)
        last = after_page_id
        while True:
            ids = [int(row[0]) for row in self._select(
                wiki_id,
                f"SELECT DISTINCT gelr_page FROM {table} WHERE gelr_page > %s ORDER BY gelr_page LIMIT %s",
                (last, batch_size),
            )]
            if ids:
                yield self.page_rows(wiki_id, ids)
            if len(ids) < batch_size:
                return
            last = ids[-1]

    def delete_revisions(self, wiki_id: str, page_id: int, rev_ids: Sequence[int]) -> int:
        """Delete these revisions' rows of the page NOW (own transaction, committed); returns the
        number deleted. Unlike the buffered writes, for undoing one page's row at once (a tag refused
        for good): naming the exact revisions means a row of a newer revision is never touched."""
        revisions = [_check_id("rev_id", rev_id) for rev_id in rev_ids]
        if not revisions:
            return 0
        _check_id("page_id", page_id)
        self.ensure_schema(wiki_id)
        sql = (f"DELETE FROM {self.table(wiki_id)} WHERE gelr_page = %s"
               f" AND gelr_revision IN ({', '.join(['%s'] * len(revisions))})")

        def delete(conn: Connection) -> int:
            conn.begin()
            try:
                with conn.cursor() as cur:
                    deleted = cur.execute(sql, (page_id, *revisions))
                conn.commit()
            except BaseException:
                self._rollback(conn)
                raise
            return int(deleted)

        return self._run(delete)

    def _select(self, wiki_id: str, sql: str, params: tuple[Any, ...]) -> tuple[tuple[Any, ...], ...]:
        self.ensure_schema(wiki_id)

        def query(conn: Connection) -> tuple[tuple[Any, ...], ...]:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall()

        return self._run(query)

    # ------------------------------------------------------------------ connection

    def setup(self) -> None:
        """Open the connection now (instead of at first use) so bad settings fail at start-up."""
        self._run(lambda conn: conn.ping(reconnect=False))

    def discard(self) -> None:
        with self._lock:
            self._buffer.clear()
            self._prefetched.clear()

    def close(self) -> None:
        with self._lock:
            self._buffer.clear()
            self._prefetched.clear()
            self._drop()

    def _run(self, fn: Callable[[Connection], R]) -> R:
        """Run ``fn`` on the connection; reopen once if a reused connection turns out dead."""
        with self._lock:
            for attempt in (1, 2):
                fresh = self._conn is None
                try:
                    return fn(self._connection())
                except Exception as exc:
                    retry = attempt == 1 and not fresh and _connection_lost(exc)
                    error = _translate(exc)
                    if isinstance(error, TransientSinkError):
                        self._drop()
                    if not retry:
                        raise error from exc
            raise AssertionError("unreachable")

    def _connection(self) -> Connection:
        if self._conn is None:
            o = self.options
            self._conn = pymysql.connect(
                host=o.host,
                port=o.port,
                user=o.user,
                password=o.password or "",
                ssl=o.ssl_context(),
                autocommit=True,  # reads never hold a transaction open; writes BEGIN explicitly
                charset="utf8mb4",
                connect_timeout=o.connect_timeout,
                read_timeout=o.read_timeout,
                write_timeout=o.write_timeout,
                init_command="SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
            )
        return self._conn

    def _rollback(self, conn: Connection) -> None:
        try:
            conn.rollback()
        except Exception:  # the connection is already broken; the server rolls back on its own
            self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # closing a dead socket; nothing else to do
                pass
