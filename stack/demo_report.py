"""Prints what the pipeline wrote for one wiki: MariaDB rows, Elasticsearch tags, and one stored
recommendation. The last step of `stack/demo.sh`; reads the same configuration as the pipeline."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from stream.pipeline.bootstrap import build_store, build_tag_sink
from stream.config import load_settings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--wiki", required=True)
    args = parser.parse_args()

    settings = load_settings(args.config)
    store = build_store(settings)
    tags = build_tag_sink(settings, producer=None)
    try:
        stored = list(store.pages_with_data(args.wiki))
        tagged = set(tags.tagged_page_ids(args.wiki))
        with_rows = {page.page_id for page in stored}
        print(f"MariaDB  {settings.database_for(args.wiki)}.growthexperiments_link_recommendations: "
              f"{len(stored)} pages with a recommendation row")
        print(f"Elasticsearch  {settings.index_for(args.wiki)}: {len(tagged)} documents tagged "
              "recommendation.link/exists")
        print(f"rows without a tag: {len(with_rows - tagged)}; tags without a row: {len(tagged - with_rows)}")
        if stored:
            example = max(stored, key=lambda page: page.rev_id)
            data = store.stored_data(args.wiki, example.rev_id)
            gelr = json.loads(data) if data else {}
            print(f"\nrecommendation stored for page {example.page_id}, revision {example.rev_id}:")
            for link in gelr.get("links", []):
                print(f"  {link['link_index']:>2}  {link['link_text']!r} -> [[{link['link_target']}]]"
                      f"  score {link['score']:.3f}  offset {link['wikitext_offset']}  match {link['match_index']}")
            print(f"  meta: {json.dumps(gelr.get('meta', {}), ensure_ascii=False)}")
    finally:
        store.close()
        tags.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
