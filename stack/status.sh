#!/usr/bin/env bash
# Prints the state of each service of the local stack (up/down, health, pid, endpoint).
# Exit status: 0 when all four are up and healthy, 1 otherwise. Changes nothing.
set -euo pipefail
# shellcheck source=lib/all.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/all.sh"

report_states
