#!/usr/bin/env bash
# Starts the local service stack (Kafka, Elasticsearch, MariaDB, Redis) on 127.0.0.1.
#
# Installs whatever is missing (Debian packages, Kafka jars and the Elasticsearch zip
# from Maven Central, cached in $ADDLINK_STACK_CACHE), starts each service that is not
# running, waits until each passes a real health check, and prints their state. Running
# it again when all is up only re-checks health. A service already answering on its port
# from elsewhere (e.g. the stack of another clone) is used as it is if it passes the
# same health check. Data and logs: <repo>/.stack/.
# Exit status: 0 when all four are healthy, 1 otherwise (with the failing log's tail).
# Usage: up.sh [SERVICE...]  (kafka, elasticsearch, mariadb, redis; default: all four), e.g.
# `bash stack/up.sh elasticsearch` starts and checks only Elasticsearch (fault injection uses this).
set -euo pipefail
# shellcheck source=lib/all.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/all.sh"

if (( $# )); then
  for svc in "$@"; do [[ " ${SERVICES[*]} " == *" $svc "* ]] || die "unknown service '$svc' (one of: ${SERVICES[*]})"; done
  SERVICES=("$@"); START_ORDER=("$@")
fi

take_lock
t0=$SECONDS
install_missing

started=()
external=()
for svc in "${START_ORDER[@]}"; do
  if pid="$(service_pid "$svc")"; then
    say "$svc already running (pid $pid)"
  elif port_open "$("${svc}_port")"; then
    external+=("$svc")
    say "$svc: port $("${svc}_port") is served by a process not started from this clone; checking it"
  else
    say "starting $svc"
    "${svc}_start"
    started+=("$svc")
  fi
done

failed=0
for svc in "${START_ORDER[@]}"; do
  if [[ " ${external[*]} " == *" $svc "* ]]; then
    retry_healthy "$svc" 30 || {
      warn "$svc: the process on port $("${svc}_port") fails the $svc health check; stop it or set ADDLINK_*_PORT"
      failed=1
    }
  else
    wait_healthy "$svc" "$START_TIMEOUT" || failed=1
  fi
done

echo
report_states || failed=1
echo
if (( failed )); then
  die "${*:-stack} not healthy after $((SECONDS - t0))s (logs in $STACK_LOGS)"
fi
say "${*:-stack} healthy in $((SECONDS - t0))s (started: ${started[*]:-none}); for tests: source stack/env.sh"
