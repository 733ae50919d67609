"""Empties what the pipeline stored for one wiki on the local stack: its MariaDB tables, its
Elasticsearch index and its Redis keys. `stack/demo.sh` runs it first, so every demo run shows what
the pipeline does from empty stores (a second replay of the same revisions would otherwise only find
them stored already). Local stacks only: in production these stores belong to MediaWiki."""

from __future__ import annotations

import argparse
from pathlib import Path

from stream.config import load_settings
from stream.pipeline.bootstrap import build_store, build_tag_sink
from stream.pipeline.state import connect as connect_redis


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--wiki", required=True)
    args = parser.parse_args()

    settings = load_settings(args.config)
    store = build_store(settings)
    tags = build_tag_sink(settings, producer=None)
    redis = connect_redis(settings.redis)
    try:
        store.drop_schema(args.wiki)
        tags.drop_index(args.wiki)
        prefix = settings.redis.key_prefix
        removed = 0
        for kind in ("page", "title"):
            keys = list(redis.scan_iter(match=f"{prefix}:{kind}:{args.wiki}:*", count=1000))
            for start in range(0, len(keys), 1000):
                removed += redis.delete(*keys[start:start + 1000])
        print(f"emptied {args.wiki}: MariaDB tables dropped, index {settings.index_for(args.wiki)} deleted, "
              f"{removed} Redis keys removed")
    finally:
        store.close()
        tags.close()
        redis.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
