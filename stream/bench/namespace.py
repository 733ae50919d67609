"""A benchmark run's own namespace on the configured services: topics, consumer groups, Redis key prefix,
database and index named after a run id (so runs never see each other's data), and their removal."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sinks.elasticsearch import WeightedTagSink
from stream.config import Settings
from stream.pipeline.bootstrap import build_store, build_tag_sink
from stream.pipeline.state import connect as connect_redis
from stream.transport.kafka_io import delete_topics


def isolated_settings(settings: Settings, wiki_id: str, run_id: str) -> Settings:
    """A copy of ``settings`` whose topics, groups, keys, database and index belong to this run."""
    name = f"addlink-bench-{run_id}"
    wiki = settings.wikis[wiki_id].model_copy(
        update={"minimum_time_since_last_edit": 0, "database": f"addlink_bench_{run_id}_{wiki_id}"}
    )
    kafka = settings.kafka.model_copy(update={
        "source_topics": (f"{name}.src",), "work_topic": f"{name}.work", "error_topic": f"{name}.error",
        "weighted_tags_topic": f"{name}.tags", "ingest_group_id": f"{name}-ingest", "worker_group_id": f"{name}-worker",
    })
    return settings.model_copy(update={
        "kafka": kafka,
        "redis": settings.redis.model_copy(update={"key_prefix": name}),
        "elasticsearch": settings.elasticsearch.model_copy(update={"index_pattern": name + "-{wiki_id}_content"}),
        "wikis": {wiki_id: wiki},
    })


def remove_namespace(bench: Settings, wiki_id: str, command: str) -> None:
    """Remove the run's topics, Redis keys, database and index; each step on its own, reporting
    (never raising) what could not be removed, so a cleanup problem cannot hide the figures."""

    def redis_keys() -> None:
        client = connect_redis(bench.redis)
        keys = list(client.scan_iter(match=f"{bench.redis.key_prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()

    def index() -> None:
        if bench.tags_mode == "elasticsearch":
            index_sink = build_tag_sink(bench, None)
            assert isinstance(index_sink, WeightedTagSink)
            index_sink.drop_index(wiki_id)
            index_sink.close()

    steps = {
        "topics": lambda: delete_topics(bench.kafka, [*bench.kafka.source_topics, bench.kafka.work_topic,
                                                      bench.kafka.error_topic, bench.kafka.weighted_tags_topic]),
        "redis keys": redis_keys,
        "database": lambda: build_store(bench).drop_schema(wiki_id),
        "index": index,
    }
    for what, step in steps.items():
        try:
            step()
        except Exception as error:  # noqa: BLE001 - see docstring
            print(f"{command}: could not remove the run's {what}: {error}", file=sys.stderr)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of every benchmark that runs the pipeline in a namespace of its own."""
    parser.add_argument("--config", required=True, type=Path, help="configuration file (YAML or TOML)")
    parser.add_argument("--wiki", required=True, help="enabled wiki whose model scores the articles")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker stages in the consumer group, each with its own scoring process (default 1)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
