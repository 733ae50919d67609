# shellcheck shell=bash
# The per-service state table printed by up.sh and status.sh.

# Prints one line per service; returns 0 when all are up and healthy.
report_states() {
  local svc pid ok=0
  printf '%-14s %-6s %-8s %-8s %s\n' SERVICE STATE HEALTH PID ENDPOINT
  for svc in "${SERVICES[@]}"; do
    if pid="$(service_pid "$svc")"; then
      if "${svc}_healthy" >/dev/null 2>&1; then
        printf '%-14s %s%-6s %-8s%s %-8s %s\n' "$svc" "$_G" up healthy "$_N" "$pid" "$("${svc}_describe")"
      else
        printf '%-14s %s%-6s %-8s%s %-8s %s\n' "$svc" "$_R" up FAILING "$_N" "$pid" "see $("${svc}_log" | head -n 1)"
        ok=1
      fi
    elif port_open "$("${svc}_port")" && "${svc}_healthy" >/dev/null 2>&1; then
      printf '%-14s %s%-6s %-8s%s %-8s %s\n' "$svc" "$_G" up healthy "$_N" "-" "$("${svc}_describe") [not started by this clone]"
    elif port_open "$("${svc}_port")"; then
      printf '%-14s %s%-6s %-8s%s %-8s %s\n' "$svc" "$_Y" other "-" "$_N" "-" "port $("${svc}_port") is held by a process the stack did not start"
      ok=1
    else
      printf '%-14s %s%-6s %-8s%s %-8s %s\n' "$svc" "$_R" down "-" "$_N" "-" ""
      ok=1
    fi
  done
  return $ok
}
