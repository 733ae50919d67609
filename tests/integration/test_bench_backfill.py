"""`addlink bench backfill` against the real services: a whole tiny dump produced and replayed, and
every recommendation row matched by a tag."""

from __future__ import annotations

import bz2
import re
from html import unescape
from pathlib import Path
from xml.sax.saxutils import escape

import pymysql
import pytest

from pipeline_env import DUMPS, WIKI, delinked, make, sample_articles, services  # noqa: F401 - fixtures
from stream.bench.backfill import bench_backfill
from stream.bench.namespace import isolated_settings

pytestmark = pytest.mark.integration


def delinked_dump(directory: Path) -> Path:
    """The el sample dump with its articles' links removed (``delinked``): articles to recommend links for,
    as the sample's own, fully linked text leaves the model nothing to add."""
    xml = bz2.decompress((DUMPS / "el-sample.xml.bz2").read_bytes()).decode("utf-8")
    xml = re.sub(r"(<text[^>]*>)(.*?)(</text>)", lambda m: m[1] + escape(delinked(unescape(m[2]))) + m[3], xml,
                 flags=re.S)
    path = directory / "el-delinked.xml.bz2"
    path.write_bytes(bz2.compress(xml.encode("utf-8")))
    return path


def test_a_backfill_with_two_workers_stores_as_many_rows_as_tags_and_leaves_nothing(make, tmp_path) -> None:
    env = make()
    figures = bench_backfill(env.settings, wiki_id=WIKI, dumps=[delinked_dump(tmp_path)], workers=2, progress=False)
    assert figures["articles"] == len(sample_articles()) and figures["eligible"] == figures["articles"]
    assert figures["rows"] > 0 and figures["rows"] == figures["tags"] and figures["rows_equal_tags"]
    assert sum(figures["outcomes"].values()) >= figures["eligible"]  # at least once
    assert 0 < figures["startup_seconds"] < figures["replay_seconds"]
    assert figures["articles_per_second_after_startup"] > figures["articles_per_second_replay"] > 0
    assert env.rows() == {}, "the run's own database, not the environment's"
    connection = pymysql.connect(**env.services.mariadb)
    with connection.cursor() as cursor:
        database = isolated_settings(env.settings, WIKI, figures["run_id"]).database_for(WIKI)
        assert cursor.execute("SHOW DATABASES LIKE %s", (database,)) == 0, "the run's database is dropped"
    connection.close()
