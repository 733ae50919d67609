#!/usr/bin/env bash
# The test command: virtualenv, local services, import contracts, then the whole pytest suite.
# Leaves the stack as it found it: if the services were down before, they are taken down after.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash stack/ensure-venv.sh
if bash stack/status.sh >/dev/null 2>&1; then
    was_up=1
else
    was_up=0
fi
if [ "$was_up" = 0 ] && [ -z "${ADDLINK_KEEP_STACK:-}" ]; then
    trap 'bash stack/down.sh' EXIT
fi
bash stack/up.sh
# shellcheck source=/dev/null
source stack/env.sh

.venv/bin/lint-imports
.venv/bin/pytest "$@"
