#!/usr/bin/env bash
# Stops the local service stack. Each service gets SIGTERM, then SIGKILL after
# $ADDLINK_STACK_STOP_TIMEOUT seconds (default 30); returns once every process of the
# stack has exited. Data in <repo>/.stack/ is kept (remove that folder to start afresh).
# Usage: down.sh [SERVICE...]  (kafka, elasticsearch, mariadb, redis; default: all four), e.g.
# `bash stack/down.sh mariadb` stops only MariaDB (fault injection uses this).
set -euo pipefail
# shellcheck source=lib/all.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/all.sh"

if (( $# )); then
  for svc in "$@"; do [[ " ${SERVICES[*]} " == *" $svc "* ]] || die "unknown service '$svc' (one of: ${SERVICES[*]})"; done
  SERVICES=("$@")
fi

take_lock
for svc in "${SERVICES[@]}"; do
  pids=()
  if pid="$(service_pid "$svc")"; then pids+=("$pid"); fi
  lp="$STACK_RUN/$svc.launcher.pid"
  if [[ -s "$lp" ]] && pid_running "$(<"$lp")"; then pids+=("$(<"$lp")"); fi
  while read -r pid; do [[ -n "$pid" && " ${pids[*]} " != *" $pid "* ]] && pids+=("$pid"); done < <(stray_pids "$svc")
  if (( ${#pids[@]} == 0 )); then
    say "$svc not running"
    continue
  fi
  say "stopping $svc (pid ${pids[*]})"
  for pid in "${pids[@]}"; do stop_pid "$svc" "$pid"; done
  rm -f "$(pidfile "$svc")" "$lp"
done
say "${*:-stack} stopped"
