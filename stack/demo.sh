#!/usr/bin/env bash
# The main job end to end on the bundled sample wiki (ltgwiki, the complete Latgalian Wikipedia):
# virtualenv -> local services -> train and publish a model -> publish every article revision as a
# mediawiki.page_content_change.v1 event -> replay those events through ingest, worker and sinks ->
# print what landed in MariaDB and Elasticsearch.
# Environment: ADDLINK_DEMO_WIKI / ADDLINK_DEMO_DUMP / ADDLINK_DEMO_LANGUAGE pick another wiki and dump.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

wiki="${ADDLINK_DEMO_WIKI:-ltgwiki}"
dump="${ADDLINK_DEMO_DUMP:-stack/samples/ltgwiki-20170901-pages-articles.xml.bz2}"
language="${ADDLINK_DEMO_LANGUAGE:-${wiki%wiki}}"
config="stack/addlink.yaml"
export ADDLINK_MODELS_DIR="$root/.stack/models"
addlink=".venv/bin/addlink"
# Only the demo wiki has a model here; `addlink run`/`replay` refuse enabled wikis without one.
for other in elwiki ukwiki viwiki jawiki mrwiki ltgwiki; do
    [ "$other" = "$wiki" ] || export "ADDLINK_WIKIS__${other^^}__ENABLED=false"
done

step() { printf '\n== %s\n' "$*"; }

step "1/5 virtualenv"
bash stack/ensure-venv.sh
step "2/5 local services"
bash stack/up.sh

step "3/5 train and publish the $wiki model (release gate: precision >= 0.75, recall >= 0.20 at 0.5)"
"$addlink" train --wiki "$wiki" --language "$language" --dump "$dump" --models "$ADDLINK_MODELS_DIR"

# Record timestamps of this run's events are after this instant, so the replay below covers
# exactly them, however many earlier demo runs the topic holds.
since="$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)"
# From empty stores, so a second demo run shows the same as the first.
.venv/bin/python stack/demo_reset.py --config "$config" --wiki "$wiki"
step "4/5 publish $wiki's articles as page_content_change events"
"$addlink" produce --config "$config" --wiki "$wiki" --dump "$dump"

step "5/5 replay them through the pipeline (quiet period 0; a local index is created for the tags)"
summary=".stack/demo-replay-summary.json"
"$addlink" replay --config "$config" --from "$since" --until end --quiet-period 0 --create-indices --json > "$summary"

step "what the pipeline did and wrote"
.venv/bin/python stack/demo_report.py --config "$config" --wiki "$wiki" --summary "$summary"
