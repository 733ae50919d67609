"""Prints what the pipeline did for one wiki: every outcome with why pages got no recommendation
(from the replay's summary), the MariaDB rows, the Elasticsearch tags, and one stored recommendation.
The last step of `stack/demo.sh`; reads the same configuration as the pipeline."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from stream.config import WikiSettings, load_settings
from stream.pipeline.bootstrap import build_store, build_tag_sink

# GrowthExperiments' outcomes (and the finer causes of stream.core.eligibility.scored_cause), in words.
OUTCOMES = {
    "success": "a recommendation was stored and the page tagged",
    "already_stored": "this revision already has its recommendation row",
    "known_unavailable": "this revision already has a NULL row (known to have none)",
    "all_recommendations_pruned": "no link left to suggest",
    "good_links_count_too_small": "fewer links than minimum_links_per_task={wiki.minimum_links_per_task} "
                                  "scored at least minimum_link_score={wiki.minimum_link_score}",
    "minimum_time_since_last_edit_did_not_pass": "edited too recently (minimum_time_since_last_edit)",
    "disambiguation_page": "a disambiguation page (a template whose text holds __DISAMBIG__)",
    "excluded_category": "in a category of excluded_categories",
    "excluded_template": "uses a template of excluded_templates",
    "last_edit_link_recommendation": "its last edit was an Add-a-Link edit",
    "last_edit_link_recommendation_revert": "its last edit reverted an Add-a-Link edit",
    "other": "no usable text, outside the word-count bounds, or too large to evaluate",
}
CAUSES = {
    "no_anchor_in_text": "no phrase of the text is an anchor of the wiki's dictionary",
    "no_link_above_threshold": "candidates were scored, none reached minimum_link_score={wiki.minimum_link_score}",
    "red_links": "every suggested target has no page",
    "rejected_targets": "every suggested target was rejected twice on this page",
    "red_links_and_rejected_targets": "every suggested target has no page or was rejected twice",
    "fewer_good_links_than_minimum": "too few links scored high enough",
    "submission_exists": "a reviewer already submitted this revision",
}


def explain(summary: dict[str, dict[str, int]], wiki: WikiSettings) -> list[str]:
    """One line per outcome of the replay's summary, and under it the causes counted for it."""
    lines = []
    causes = summary.get("causes", {})
    for outcome, count in sorted(summary.get("outcomes", {}).items(), key=lambda item: -item[1]):
        lines.append(f"{count:>7}  {outcome}: {OUTCOMES.get(outcome, '').format(wiki=wiki)}")
        for key, n in sorted(causes.items(), key=lambda item: -item[1]):
            parent, _, cause = key.partition(":")
            if parent == outcome:
                lines.append(f"{n:>16}  {cause}: {CAUSES.get(cause, '').format(wiki=wiki)}")
    for reason, count in sorted(summary.get("skipped", {}).items()):
        lines.append(f"{count:>7}  not evaluated ({reason})")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--wiki", required=True)
    parser.add_argument("--summary", type=Path, help="the JSON summary `addlink replay --json` printed")
    args = parser.parse_args()

    settings = load_settings(args.config)
    if args.summary is not None:
        wiki = settings.wiki(args.wiki)
        assert wiki is not None, f"{args.wiki} is not configured"
        print(f"outcomes of {args.wiki}'s pages, and why pages got no recommendation:")
        print("\n".join(explain(json.loads(args.summary.read_text()), wiki)), end="\n\n")
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
