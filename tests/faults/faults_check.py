"""The invariant, checked over every page of the workload after the pipeline caught up.

Expected state per page (from the events produced, see faults_workload.py): deleted -> no row and
no tag; live -> at most the row of its latest revision, a tag exactly when that row has data.
What the row must be is decided offline on the pure path the worker runs - ``pre_score_verdict``,
``scoring.recommend`` with the same bundle, settings and deadline, ``prune_and_decide`` - with the
facts a fresh wiki has (no submissions, no rejections). One fact depends on timing: pruning of
targets the stream has seen deleted or moved away (Redis; lost when Redis restarts). Pruning only
removes links, so the decision is computed with no title gone and with every title ever gone; if
both give the same row kind, that kind is required, otherwise either is accepted (the row must
still exist when both kinds write one). Pages the worker scored past its deadline (logged) get
the same allowance for their data.

Duplicates written: an AFTER INSERT trigger on the recommendations table logs every committed row
insert (REPLACE and NULL-row insert alike) in ``faults_row_writes``; writes of a revision beyond
its first are duplicates (at-least-once delivery re-applying the same row).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pymysql
from elasticsearch import Elasticsearch

from faults_workload import WIKI, PageFinal, Workload
from scoring.bundle import load_bundle
from scoring.recommend import recommend
from scoring.titles import normalise_title
from scoring.wikitext import parse_article
from sinks.base import json_bytes
from sinks.mariadb import RECOMMENDATIONS
from stream.config import Settings
from stream.core.eligibility import Outcome, StoreFacts, pre_score_verdict, prune_and_decide
from stream.core.events import SourceMessage, WorkItem, parse_event

AUDIT_TABLE = "faults_row_writes"
TAG = "recommendation.link/exists"


@dataclass(frozen=True)
class Expected:
    """Row kinds the rules allow for a live page's latest revision ("data", "null", "none") and,
    when the decision is certain, the link targets the data must hold."""

    kinds: frozenset[str]
    targets: tuple[str, ...] | None


def expected_rows(settings: Settings, workload: Workload) -> dict[int, Expected]:
    """The offline decision for every live page's latest revision."""
    wiki = settings.wiki(WIKI)
    assert wiki is not None
    bundle = load_bundle(settings.models_dir, WIKI)
    if wiki.disambiguation_templates is None:  # as the worker does: the bundle's, found in the dump
        wiki = wiki.model_copy(update={"disambiguation_templates": bundle.disambiguation_templates})
    gone = {normalise_title(title) for title in workload.gone_titles}
    facts = (StoreFacts(), StoreFacts(target_gone=lambda title: normalise_title(title) in gone))
    expected = {}
    for final in workload.final.values():
        if final.deleted:
            continue
        item = WorkItem.from_event(parse_event(json_bytes(final.last_event)),
                                   SourceMessage("faults", 0, 0, None, b"", None), include_wikitext=True)
        article = parse_article(item.wikitext, bundle.namespaces, bundle.link_trail) if item.wikitext is not None else None
        if pre_score_verdict(item, article, wiki, facts[0], datetime.now(UTC)) is not None:
            expected[final.page_id] = Expected(frozenset({"none"}), None)
            continue
        assert article is not None
        scored = recommend(article.wikitext, title=normalise_title(item.page_title), page_id=item.page_id,
                           rev_id=item.rev_id, bundle=bundle, threshold=wiki.minimum_link_score,
                           max_links=wiki.maximum_links_per_task, excluded_sections=wiki.excluded_sections,
                           deadline_s=settings.scoring.deadline_seconds, parsed=article)
        decisions = [prune_and_decide(scored.links, wiki, f) for f in facts]
        kinds = frozenset(_kind(d.outcome, d.write_null_row) for d in decisions)
        certain = len(kinds) == 1 and decisions[0].links == decisions[1].links and scored.complete
        targets = tuple(link.link_target for link in decisions[0].links or ()) if certain else None
        expected[final.page_id] = Expected(kinds, targets)
    return expected


def _kind(outcome: Outcome, write_null_row: bool) -> str:
    return "data" if outcome is Outcome.SUCCESS else "null" if write_null_row else "none"


def install_write_audit(connection: pymysql.Connection, database: str) -> None:
    """Log every committed row insert of the recommendations table (same transaction)."""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE `{database}`.{AUDIT_TABLE} (id BIGINT AUTO_INCREMENT PRIMARY KEY,"
                       " rev INT UNSIGNED NOT NULL, page INT UNSIGNED NOT NULL, has_data TINYINT NOT NULL)")
        cursor.execute(f"CREATE TRIGGER `{database}`.faults_audit_insert AFTER INSERT ON `{database}`.{RECOMMENDATIONS}"
                       f" FOR EACH ROW INSERT INTO `{database}`.{AUDIT_TABLE} (rev, page, has_data)"
                       " VALUES (NEW.gelr_revision, NEW.gelr_page, NEW.gelr_data IS NOT NULL)")


@dataclass
class Stores:
    """What landed: rows per page (rev -> link targets, None for a NULL row), tagged page ids,
    the write log."""

    rows: dict[int, dict[int, tuple[str, ...] | None]]
    tagged: set[int]
    writes: int
    duplicate_writes: int
    revisions_written: int

    @classmethod
    def read(cls, connection: pymysql.Connection, database: str, es: Elasticsearch, index: str) -> Stores:
        rows: dict[int, dict[int, tuple[str, ...] | None]] = {}
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT gelr_revision, gelr_page, gelr_data FROM `{database}`.{RECOMMENDATIONS}")
            for rev, page, data in cursor.fetchall():
                links = None if data is None else tuple(link["link_target"] for link in json.loads(data)["links"])
                rows.setdefault(int(page), {})[int(rev)] = links
            cursor.execute(f"SELECT COUNT(*), COUNT(DISTINCT rev) FROM `{database}`.{AUDIT_TABLE}")
            writes, distinct = cursor.fetchone()
        es.indices.refresh(index=index)
        tagged = {int(hit["_id"]) for hit in es.search(index=index, query={"term": {"weighted_tags": TAG}},
                                                      size=10_000, source=False)["hits"]["hits"]}
        return cls(rows, tagged, int(writes), int(writes) - int(distinct), int(distinct))


@dataclass
class Report:
    pages_checked: int = 0
    violations: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    ambiguous_pages: int = 0
    final_rows: Counter[str] = field(default_factory=Counter)

    def add(self, kind: str, detail: str) -> None:
        self.violations[kind] += 1
        self.examples.setdefault(kind, [])
        if len(self.examples[kind]) < 5:
            self.examples[kind].append(detail)


def deadline_pages(logs: Iterable[Path]) -> set[int]:
    """Pages a worker scored past the scoring deadline (its JSON log line names the page)."""
    pages = set()
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            if "scoring deadline passed" in line and (match := re.search(r'"page_id": ?(\d+)', line)):
                pages.add(int(match.group(1)))
    return pages


def check(workload: Workload, expected: dict[int, Expected], stores: Stores, late: set[int]) -> Report:
    """Compare every page's final state with what the invariant and the rules require."""
    report = Report()
    for page_id in sorted((set(stores.rows) | stores.tagged) - set(workload.final)):
        report.add("row_or_tag_for_page_never_seen", f"page {page_id}")
    for final in workload.final.values():
        report.pages_checked += 1
        _check_page(final, expected.get(final.page_id), stores, final.page_id in late, report)
    return report


def _check_page(final: PageFinal, expected: Expected | None, stores: Stores, late: bool, report: Report) -> None:
    page = final.page_id
    rows = stores.rows.get(page, {})
    tagged = page in stores.tagged
    where = f"page {page} ({final.title}) latest rev {final.rev_id}"
    if final.deleted:
        report.final_rows["deleted"] += 1
        if rows:
            report.add("row_for_deleted_page", f"{where}: rows {sorted(rows)}")
        if tagged:
            report.add("tag_for_deleted_page", where)
        return
    assert expected is not None
    for rev in rows:
        if rev != final.rev_id:
            report.add("row_for_older_revision", f"{where}: row for rev {rev}")
    own = rows.get(final.rev_id)
    kind = "none" if final.rev_id not in rows else "null" if own is None else "data"
    report.final_rows[kind] += 1
    if tagged and kind != "data":
        report.add("tag_without_data_row", f"{where}: row {kind}")
    if kind == "data" and not tagged:
        report.add("data_row_without_tag", where)
    allowed = expected.kinds
    if late and allowed & {"data", "null"}:
        allowed = allowed | {"data", "null"}  # scored past the deadline: fewer links may have been found
    if len(allowed) > 1:
        report.ambiguous_pages += 1
    if kind == "none" and "none" not in allowed:
        report.add("latest_revision_not_evaluated", f"{where}: rules write a {'/'.join(sorted(allowed))} row")
    elif kind not in allowed:
        report.add("row_differs_from_rules", f"{where}: {kind} row, rules say {'/'.join(sorted(allowed))}")
    elif kind == "data" and expected.targets is not None and not late and own != expected.targets:
        report.add("data_differs_from_offline", f"{where}: {own} != {expected.targets}")
