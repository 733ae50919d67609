"""sinks.mariadb against the local stack's real MariaDB: GrowthExperiments' exact schema, REPLACE
by revision, NULL rows, page deletion, one transaction per flush, the read queries the rules
need, connection loss, password authentication and enforced TLS."""

from __future__ import annotations

import os

import secrets
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pymysql
import pytest

from sinks.base import SinkError, TransientSinkError
from sinks.mariadb import (
    RECOMMENDATIONS,
    SUBMISSIONS,
    MariaDBOptions,
    RecommendationStore,
    RowState,
    StoredPage,
)

pytestmark = pytest.mark.integration

GELR = '{"links":[{"link_text":"Αθήνα","link_target":"Αθήνα"}],"meta":{"format_version":1}}'.encode()


class Admin:
    """Root access to the stack's MariaDB for setting up and inspecting what the store did."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params

    def run(self, statement: str, args: tuple = ()) -> tuple:
        with pymysql.connect(**self.params, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(statement, args)
            return cur.fetchall()

    def rows(self, wiki: str) -> list[tuple[int, int, bytes | None]]:
        return list(self.run(f"SELECT gelr_revision, gelr_page, gelr_data FROM `{wiki}`.{RECOMMENDATIONS} ORDER BY 1"))

    def submit(self, wiki: str, *rows: tuple[int, int, int, int, int | None, str]) -> None:
        """Submission rows (revision, anchor offset, target, page, edit revision, feedback)."""
        for rev, offset, target, page, edit_rev, feedback in rows:
            self.run(
                f"INSERT INTO `{wiki}`.{SUBMISSIONS} (gels_revision, gels_anchor_offset, gels_target, gels_page,"
                " gels_edit_revision, gels_user, gels_anchor_length, gels_feedback) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
                (rev, offset, target, page, edit_rev, 7, 5, feedback),
            )

    def create_table_lines(self, database: str, table: str) -> list[str]:
        ((_, ddl),) = self.run(f"SHOW CREATE TABLE `{database}`.`{table}`")
        return [line.strip().rstrip(",") for line in ddl.splitlines()[1:]]

    def kill_connections(self, user: str) -> int:
        ids = self.run("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s", (user,))
        for (thread_id,) in ids:
            self.run(f"KILL CONNECTION {int(thread_id)}")
        return len(ids)


@pytest.fixture
def db(mariadb_params: dict[str, Any]) -> Admin:
    return Admin(mariadb_params)


@pytest.fixture
def root(mariadb_params: dict[str, Any]) -> MariaDBOptions:
    """Store options for the stack's root account (per-wiki databases)."""
    return MariaDBOptions(host=mariadb_params["host"], port=mariadb_params["port"], user=mariadb_params["user"],
                          password=mariadb_params["password"] or None)


@pytest.fixture
def wiki(db: Admin) -> Iterator[str]:
    """A wiki id of its own; the store creates its database, dropped afterwards."""
    wiki_id = f"t{secrets.token_hex(4)}wiki"
    yield wiki_id
    db.run(f"DROP DATABASE IF EXISTS `{wiki_id}`")


@pytest.fixture
def store(root: MariaDBOptions, wiki: str) -> Iterator[RecommendationStore]:
    store = RecommendationStore(root)
    store.ensure_schema(wiki)
    yield store
    store.close()





# --------------------------------------------------------------------------- schema


def test_schema_equals_growthexperiments_ddl(db: Admin, store: RecommendationStore, wiki: str) -> None:
    assert db.create_table_lines(wiki, RECOMMENDATIONS) == [
        "`gelr_revision` int(10) unsigned NOT NULL",
        "`gelr_page` int(10) unsigned NOT NULL",
        "`gelr_data` mediumblob DEFAULT NULL",
        "PRIMARY KEY (`gelr_revision`)",
        "KEY `gelr_page` (`gelr_page`)",
        ") ENGINE=InnoDB DEFAULT CHARSET=binary",
    ]
    assert db.create_table_lines(wiki, SUBMISSIONS) == [
        "`gels_revision` int(10) unsigned NOT NULL",
        "`gels_anchor_offset` int(10) unsigned NOT NULL",
        "`gels_target` int(10) unsigned NOT NULL",
        "`gels_page` int(10) unsigned NOT NULL",
        "`gels_edit_revision` int(10) unsigned DEFAULT NULL",
        "`gels_user` int(10) unsigned NOT NULL",
        "`gels_anchor_length` int(10) unsigned NOT NULL",
        "`gels_feedback` varbinary(1) NOT NULL",  # VARCHAR(1) under MediaWiki's binary charset
        "PRIMARY KEY (`gels_revision`,`gels_target`,`gels_anchor_offset`)",
        "KEY `gels_page_feedback_target` (`gels_page`,`gels_feedback`,`gels_target`)",
        ") ENGINE=InnoDB DEFAULT CHARSET=binary",
    ]


def test_existing_tables_are_left_alone(db: Admin, store: RecommendationStore, root: MariaDBOptions, wiki: str) -> None:
    store.replace(wiki, 1, 10, GELR)
    store.flush()
    again = RecommendationStore(root)
    again.ensure_schema(wiki)
    again.ensure_schema(wiki)
    assert db.rows(wiki) == [(10, 1, GELR)]
    again.close()


def test_shared_database_layout_holds_every_wiki(
    db: Admin, root: MariaDBOptions, mariadb_database: str, wiki: str
) -> None:
    store = RecommendationStore(replace(root, per_wiki_database=False, shared_database=mariadb_database))
    store.replace(wiki, 1, 10, GELR)
    store.replace("otherwiki", 2, 20, None)
    store.flush()
    assert store.row_state("otherwiki", 20) is RowState.NULL
    assert db.run(f"SELECT gelr_revision FROM `{mariadb_database}`.{RECOMMENDATIONS} ORDER BY 1") == ((10,), (20,))
    assert db.run("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (wiki,)) == ((0,),)
    store.close()


def test_a_wiki_may_name_its_database(db: Admin, root: MariaDBOptions, mariadb_database: str, wiki: str) -> None:
    store = RecommendationStore(replace(root, databases={wiki: mariadb_database}))
    store.replace(wiki, 3, 30, GELR)
    store.flush()
    assert db.run(f"SELECT gelr_page FROM `{mariadb_database}`.{RECOMMENDATIONS}") == ((3,),)
    store.close()


def test_unsafe_identifiers_are_refused() -> None:
    with pytest.raises(ValueError, match="wiki id"):
        MariaDBOptions().database_for("enwiki`; DROP DATABASE mysql; --")
    with pytest.raises(ValueError, match="identifier"):
        MariaDBOptions(databases={"enwiki": "x1-db"}).database_for("enwiki")


# --------------------------------------------------------------------------- writes


def test_replace_by_revision_is_idempotent(db: Admin, store: RecommendationStore, wiki: str) -> None:
    store.replace(wiki, 1, 10, b'{"v":1}')
    assert db.rows(wiki) == [] and store.row_state(wiki, 10) is RowState.DATA  # buffered: read, not committed
    result = store.flush()
    assert result.operations == 1 and result.outcomes["replaced"] == 1
    store.replace(wiki, 1, 10, GELR)
    store.flush()
    store.replace(wiki, 1, 10, GELR)  # re-delivery after a crash
    store.flush()
    assert db.rows(wiki) == [(10, 1, GELR)]
    assert store.row_state(wiki, 10) is RowState.DATA
    assert store.stored_data(wiki, 10) == GELR
    assert store.stored_data(wiki, 99) is None


def test_values_are_bound_parameters(db: Admin, store: RecommendationStore, wiki: str) -> None:
    hostile = b"'); DROP TABLE growthexperiments_link_recommendations; -- \x00\xff\\"
    store.replace(wiki, 1, 10, hostile)
    store.flush()
    assert db.rows(wiki) == [(10, 1, hostile)]


def test_null_row_marks_evaluated_and_never_overwrites_data(db: Admin, store: RecommendationStore, wiki: str) -> None:
    store.replace(wiki, 1, 10, GELR)
    store.replace(wiki, 1, 11, None)
    store.flush()
    assert store.row_state(wiki, 11) is RowState.NULL
    assert store.stored_data(wiki, 11) is None
    store.replace(wiki, 1, 10, None)  # a NULL row for a revision with data changes nothing
    store.replace(wiki, 1, 11, None)  # repeat
    result = store.flush()
    assert result.outcomes["null_rows"] == 2
    assert db.rows(wiki) == [(10, 1, GELR), (11, 1, None)]
    store.replace(wiki, 1, 11, GELR)  # data replaces NULL (REPLACE)
    store.flush()
    assert store.row_state(wiki, 11) is RowState.DATA


def test_delete_page_removes_every_revision_of_that_page_only(db: Admin, store: RecommendationStore, wiki: str) -> None:
    for page, rev, data in [(1, 10, GELR), (1, 11, None), (1, 12, GELR), (2, 20, GELR)]:
        store.replace(wiki, page, rev, data)
    store.flush()
    assert store.latest_revision(wiki, 1) == 12

    store.delete_page(wiki, 1)
    result = store.flush()

    assert result.outcomes["pages_deleted"] == 1 and result.outcomes["rows_deleted"] == 3
    assert db.rows(wiki) == [(20, 2, GELR)]
    assert store.latest_revision(wiki, 1) is None and store.latest_revision(wiki, 2) == 20
    store.delete_page(wiki, 1)  # repeat: nothing left, no error
    assert store.flush().outcomes["rows_deleted"] == 0


def test_reads_include_the_buffered_writes(db: Admin, store: RecommendationStore, wiki: str) -> None:
    store.replace(wiki, 1, 10, GELR)
    store.flush()
    store.delete_page(wiki, 1)  # pending: the committed row is still there
    assert db.rows(wiki) == [(10, 1, GELR)]
    assert store.row_state(wiki, 10) == RowState.NONE and store.latest_revision(wiki, 1) is None
    store.replace(wiki, 1, 11, None)
    store.replace(wiki, 1, 10, GELR)
    assert store.row_state(wiki, 11) == RowState.NULL and store.row_state(wiki, 10) == RowState.DATA
    assert store.latest_revision(wiki, 1) == 11
    store.replace(wiki, 1, 10, None)  # a NULL row never replaces a row
    assert store.row_state(wiki, 10) == RowState.DATA
    store.discard()
    assert store.row_state(wiki, 10) == RowState.DATA and store.row_state(wiki, 11) == RowState.NONE
    assert store.latest_revision(wiki, 1) == 10


def test_a_read_sees_its_own_pages_pending_writes_among_others(db: Admin, store: RecommendationStore, wiki: str) -> None:
    store.replace(wiki, 2, 20, GELR)
    store.delete_page(wiki, 3)
    store.replace(wiki, 1, 10, GELR)
    assert store.latest_revision(wiki, 2) == 20 and store.latest_revision(wiki, 1) == 10
    assert store.latest_revision(wiki, 3) is None and store.row_state(wiki, 20) == RowState.DATA
    store.flush()
    store.delete_page(wiki, 2)  # pending, on the page of the committed row 20
    store.replace(wiki, 4, 40, GELR)
    assert store.row_state(wiki, 20) == RowState.NONE and store.latest_revision(wiki, 2) is None
    assert store.row_state(wiki, 10) == RowState.DATA and store.latest_revision(wiki, 1) == 10
    store.flush()
    assert db.rows(wiki) == [(10, 1, GELR), (40, 4, GELR)]
    assert store.pending == 0 and store.latest_revision(wiki, 4) == 40


def test_writes_run_in_order(db: Admin, store: RecommendationStore, wiki: str) -> None:
    store.replace(wiki, 1, 10, GELR)
    store.delete_page(wiki, 1)
    store.replace(wiki, 1, 11, GELR)
    store.flush()
    assert db.rows(wiki) == [(11, 1, GELR)]


def test_a_flush_is_one_transaction(db: Admin, store: RecommendationStore, wiki: str) -> None:
    broken = f"t{secrets.token_hex(4)}wiki"
    # A wiki whose table rejects NULL data: the flush fails on its statement, after ours ran.
    db.run(f"CREATE DATABASE `{broken}`")
    db.run(f"CREATE TABLE `{broken}`.{RECOMMENDATIONS} (gelr_revision INT UNSIGNED PRIMARY KEY,"
        " gelr_page INT UNSIGNED NOT NULL, gelr_data MEDIUMBLOB NOT NULL)")
    db.run(f"CREATE TABLE `{broken}`.{SUBMISSIONS} (gels_revision INT UNSIGNED)")
    try:
        store.replace(wiki, 1, 10, GELR)
        store.replace(broken, 2, 20, None)
        with pytest.raises(SinkError) as raised:
            store.flush()
        assert not isinstance(raised.value, TransientSinkError)
        assert db.rows(wiki) == []  # rolled back together
        assert store.pending == 2  # kept for a retry
        store.discard()
        assert store.pending == 0
    finally:
        db.run(f"DROP DATABASE IF EXISTS `{broken}`")


def test_invalid_writes_are_refused_before_buffering(store: RecommendationStore, wiki: str) -> None:
    with pytest.raises(ValueError, match="rev_id"):
        store.replace(wiki, 1, 0, GELR)
    with pytest.raises(ValueError, match="page_id"):
        store.replace(wiki, 2**32, 1, GELR)
    with pytest.raises(ValueError, match="bytes"):
        store.replace(wiki, 1, 1, "text")  # type: ignore[arg-type]
    assert store.pending == 0


# --------------------------------------------------------------------------- reads


def test_submission_reads(db: Admin, store: RecommendationStore, wiki: str) -> None:
    db.submit(
        wiki,
        (100, 5, 10, 1, None, "r"),
        (101, 9, 10, 1, None, "r"),  # target 10: rejected twice on page 1 -> excluded
        (100, 30, 11, 1, None, "r"),
        (102, 30, 11, 1, 103, "a"),  # target 11: once rejected, once accepted -> kept
        (104, 1, 12, 1, None, "s"),
        (105, 1, 12, 1, None, "s"),  # target 12: skipped twice -> kept
        (200, 1, 13, 2, None, "r"),
        (201, 1, 13, 2, None, "r"),  # target 13: rejected twice, but on page 2
        (106, 40, 14, 1, 107, "a"),
    )
    assert store.rejected_targets(wiki, 1) == frozenset({10})
    assert store.rejected_targets(wiki, 2) == frozenset({13})
    assert store.rejected_targets(wiki, 3) == frozenset()
    assert store.has_submission(wiki, 100) and store.has_submission(wiki, 104)
    assert not store.has_submission(wiki, 103)
    assert store.link_edit_revisions(wiki, 1) == frozenset({103, 107})
    assert store.link_edit_revisions(wiki, 2) == frozenset()


def test_prefetched_reads_answer_as_the_per_item_reads_until_the_next_flush(
        db: Admin, store: RecommendationStore, wiki: str) -> None:
    db.submit(wiki, (100, 5, 10, 1, None, "r"), (101, 9, 10, 1, None, "r"), (102, 30, 11, 1, 103, "a"),
              (100, 31, 11, 1, None, "r"),  # target 11: rejected once, accepted once -> kept
              (200, 1, 13, 2, None, "s"))
    store.replace(wiki, 1, 10, GELR)
    store.replace(wiki, 1, 12, None)
    store.replace(wiki, 2, 20, GELR)
    store.flush()
    pages, revisions = [1, 2, 3], [10, 12, 20, 30, 100, 200]

    def reads() -> list[object]:
        return [*(store.latest_revision(wiki, p) for p in pages), *(store.row_state(wiki, r) for r in revisions),
                *(store.has_submission(wiki, r) for r in revisions), *(store.link_edit_revisions(wiki, p) for p in pages),
                *(store.rejected_targets(wiki, p) for p in pages)]

    direct = reads()
    store.prefetch({wiki: (pages, revisions)})
    db.run(f"DELETE FROM `{wiki}`.{RECOMMENDATIONS}")  # behind its back: the prefetched answers stand
    assert reads() == direct
    store.delete_page(wiki, 2)  # buffered writes are laid over the prefetched answers
    assert store.latest_revision(wiki, 2) is None and store.row_state(wiki, 20) == RowState.NONE
    assert store.latest_revision(wiki, 4) is None  # not prefetched: read now
    store.flush()  # forgets them: what is committed now is read
    assert store.latest_revision(wiki, 1) is None and store.row_state(wiki, 10) == RowState.NONE


def test_pages_with_data_lists_latest_revision_per_page_in_batches(store: RecommendationStore, wiki: str) -> None:
    for page in range(1, 24):
        store.replace(wiki, page, page * 100, GELR)
        store.replace(wiki, page, page * 100 + 1, GELR if page % 2 else None)
    store.replace(wiki, 50, 5000, None)  # NULL-only page: not listed
    store.flush()

    listed = list(store.pages_with_data(wiki, batch_size=5))

    assert [p.page_id for p in listed] == list(range(1, 24))
    assert listed[0] == StoredPage(page_id=1, rev_id=101, data_rows=2)
    assert listed[1] == StoredPage(page_id=2, rev_id=200, data_rows=1)
    assert list(store.pages_with_data(wiki, after_page_id=22)) == [StoredPage(23, 2301, 2)]


# --------------------------------------------------------------------------- connection


@pytest.fixture
def account(db: Admin, wiki: str) -> Iterator[tuple[str, str]]:
    """A MariaDB account of this test only (user, password) with rights on the wiki's database."""
    user, password = f"addlink_{secrets.token_hex(3)}", f"pw-{secrets.token_hex(8)}"
    for host in ("%", "localhost"):
        db.run("CREATE USER %s@%s IDENTIFIED BY %s", (user, host, password))
        db.run(f"GRANT ALL ON `{wiki}`.* TO %s@%s", (user, host))
    yield user, password
    for host in ("%", "localhost"):
        db.run("DROP USER IF EXISTS %s@%s", (user, host))



def test_a_killed_connection_is_reopened_once_transparently(
    db: Admin, root: MariaDBOptions, wiki: str, account: tuple[str, str]
) -> None:
    user, password = account
    store = RecommendationStore(replace(root, user=user, password=password))
    store.ensure_schema(wiki)
    store.replace(wiki, 1, 10, GELR)
    store.flush()

    assert db.kill_connections(user) == 1
    assert store.row_state(wiki, 10) is RowState.DATA  # reconnected under the hood

    store.replace(wiki, 1, 11, GELR)
    assert db.kill_connections(user) == 1
    store.flush()  # the transaction is redone on a fresh connection
    assert [r[0] for r in db.rows(wiki)] == [10, 11]
    store.close()


def test_unreachable_server_is_transient() -> None:
    store = RecommendationStore(MariaDBOptions(host="127.0.0.1", port=1, connect_timeout=2))
    with pytest.raises(TransientSinkError, match="mariadb"):
        store.row_state("enwiki", 1)
    store.replace("enwiki", 1, 1, GELR)
    with pytest.raises(TransientSinkError):
        store.flush()
    assert store.pending == 1


def test_password_authentication(root: MariaDBOptions, wiki: str, account: tuple[str, str]) -> None:
    user, password = account
    good = RecommendationStore(replace(root, user=user, password=password))
    good.replace(wiki, 1, 10, GELR)
    good.flush()
    assert good.row_state(wiki, 10) is RowState.DATA
    good.close()

    bad = RecommendationStore(replace(root, user=user, password="wrong-" + password))
    with pytest.raises(SinkError) as raised:
        bad.setup()
    assert not isinstance(raised.value, TransientSinkError)  # retrying will not fix a password
    assert "Access denied" in str(raised.value) and password not in str(raised.value)
    assert password not in repr(bad.options)


def test_tls_when_asked_for_is_used_or_the_connection_fails(
    db: Admin, root: MariaDBOptions, wiki: str, account: tuple[str, str]
) -> None:
    user, password = account
    ((_, have_ssl),) = db.run("SHOW VARIABLES LIKE 'have_ssl'")
    store = RecommendationStore(replace(root, user=user, password=password, tls=True, ssl_verify_identity=False))
    if have_ssl == "YES":  # a server with TLS (the local stack's, its CA in ADDLINK_TEST_SECURE_DIR)
        for host in ("%", "localhost"):
            db.run("ALTER USER %s@%s REQUIRE SSL", (user, host))
        with pytest.raises(SinkError, match="(?i)certificate verify failed") as untrusted:
            store.setup()  # the stack's CA is not a system CA: refused, and not an outage to wait out
        assert not isinstance(untrusted.value, TransientSinkError)
        store.close()
        ca = os.path.join(os.environ["ADDLINK_TEST_SECURE_DIR"], "ca.pem")
        store = RecommendationStore(replace(root, user=user, password=password, tls=True, ssl_ca=ca,
                                            ssl_verify_identity=False))
        store.setup()  # an account that requires TLS connects with the right CA
    else:  # the local stack has no TLS: asking for it must fail, never connect in clear text
        with pytest.raises(SinkError, match="(?i)ssl") as raised:
            store.setup()
        assert not isinstance(raised.value, TransientSinkError)
        assert db.kill_connections(user) == 0
    store.close()


def test_drop_schema_removes_the_wiki_database_or_the_shared_tables(
    db: Admin, root: MariaDBOptions, mariadb_database: str, wiki: str
) -> None:
    per_wiki = RecommendationStore(root)
    per_wiki.replace(wiki, 1, 10, GELR)
    per_wiki.flush()
    per_wiki.drop_schema(wiki)
    assert db.run("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (wiki,)) == ((0,),)
    assert per_wiki.row_state(wiki, 10) is RowState.NONE  # recreated empty on next use
    per_wiki.close()

    shared = RecommendationStore(replace(root, per_wiki_database=False, shared_database=mariadb_database))
    shared.ensure_schema(wiki)
    shared.drop_schema(wiki)
    tables = db.run("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", (mariadb_database,))
    kept = db.run("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (mariadb_database,))
    assert tables == ((0,),) and kept == ((1,),)  # the shared database itself stays
    shared.close()
