# shellcheck shell=bash
# Shared settings and helpers for the local service stack. Sourced, never run.
#
# Paths are derived from the location of this file, so the scripts work in any clone.
# Settings from the environment (defaults in brackets):
#   ADDLINK_STACK_HOST [127.0.0.1], ADDLINK_{KAFKA,ES,MARIADB,REDIS}_PORT [9092/9200/3306/6379]
#   ADDLINK_KAFKA_CONTROLLER_PORT [9093], ADDLINK_ES_TRANSPORT_PORT [9300]
#   ADDLINK_STACK_DIR [<repo>/.stack]        data, logs, pid files
#   ADDLINK_STACK_CACHE [~/.cache/addlink-stack]  downloads (Maven repo, Kafka jars)
#   ADDLINK_JAVA_HOME [first JDK 17+ found], ADDLINK_STACK_PYTHON [<repo>/.venv/bin/python]
#   ADDLINK_ES_HEAP, ADDLINK_KAFKA_HEAP [512m], ADDLINK_ES_USER [addlink-es]
#   ADDLINK_STACK_START_TIMEOUT [120 s per service], ADDLINK_STACK_STOP_TIMEOUT [30 s]

STACK_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STACK_SRC="$(dirname "$STACK_LIB_DIR")"          # <repo>/stack
REPO_ROOT="$(dirname "$STACK_SRC")"              # <repo>

# --- versions (change here only) -------------------------------------------------
KAFKA_VERSION="4.1.1"            # org.apache.kafka:kafka_2.13, KRaft, runs on JDK 17+
ES_VERSION="8.19.21"             # newest integ-test-zip on Maven Central (no 9.x there)

# --- where things live ------------------------------------------------------------
# shellcheck source=../env.sh
source "$STACK_SRC/env.sh"       # host and the four client ports (defaults live there)
STACK_HOST="$ADDLINK_STACK_HOST"
KAFKA_PORT="$ADDLINK_KAFKA_PORT"
ES_PORT="$ADDLINK_ES_PORT"
MARIADB_PORT="$ADDLINK_MARIADB_PORT"
REDIS_PORT="$ADDLINK_REDIS_PORT"
KAFKA_CONTROLLER_PORT="${ADDLINK_KAFKA_CONTROLLER_PORT:-9093}"
ES_TRANSPORT_PORT="${ADDLINK_ES_TRANSPORT_PORT:-9300}"

STACK_DIR="${ADDLINK_STACK_DIR:-$REPO_ROOT/.stack}"   # data, logs, pid files (git-ignored)
STACK_RUN="$STACK_DIR/run"
STACK_LOGS="$STACK_DIR/logs"
STACK_CACHE="${ADDLINK_STACK_CACHE:-${XDG_CACHE_HOME:-${HOME:-/var/tmp}/.cache}/addlink-stack}"  # downloads, shared by clones
ES_USER="${ADDLINK_ES_USER:-addlink-es}"
ES_HEAP="${ADDLINK_ES_HEAP:-512m}"
KAFKA_HEAP="${ADDLINK_KAFKA_HEAP:-512m}"
START_TIMEOUT="${ADDLINK_STACK_START_TIMEOUT:-120}"   # seconds per service to become healthy
STOP_TIMEOUT="${ADDLINK_STACK_STOP_TIMEOUT:-30}"      # seconds before SIGKILL

SERVICES=(kafka elasticsearch mariadb redis)       # report order
START_ORDER=(elasticsearch kafka mariadb redis)   # slowest first: they start in parallel
set +m   # no job control: background services stay in our process group until setsid

# --- output -------------------------------------------------------------------------
if [[ -t 1 ]]; then _B=$'\e[1m'; _R=$'\e[31m'; _G=$'\e[32m'; _Y=$'\e[33m'; _N=$'\e[0m'
else _B=""; _R=""; _G=""; _Y=""; _N=""; fi
say()  { printf '%s==>%s %s\n' "$_B" "$_N" "$*"; }
warn() { printf '%swarning:%s %s\n' "$_Y" "$_N" "$*" >&2; }
die()  { printf '%serror:%s %s\n' "$_R" "$_N" "$*" >&2; exit 1; }

# --- processes ----------------------------------------------------------------------
# The pid file of service $1: "<svc>_pidfile" when the service writes its own.
pidfile() {
  if declare -F "${1}_pidfile" >/dev/null; then "${1}_pidfile"; else echo "$STACK_RUN/$1.pid"; fi
}

# True while service $1 runs, or while its launcher (if any) is still starting it.
service_alive() {
  service_pid "$1" >/dev/null && return 0
  local lp="$STACK_RUN/$1.launcher.pid"
  [[ -s "$lp" ]] && pid_running "$(<"$lp")"
}

# Our processes that no pid file names any more: java, mariadbd or redis-server whose
# command line or working directory lies in the service's directory.
stray_pids() {
  local home p exe
  home="$("${1}_home")"
  for p in /proc/[0-9]*; do
    exe="$(readlink "$p/exe" 2>/dev/null)" || continue
    case "${exe##*/}" in java|mariadbd|redis-server|redis-check-rdb|nginx) ;; *) continue ;; esac
    if [[ "$(readlink "$p/cwd" 2>/dev/null)/" == "$home"/* ]] || tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$home"; then
      echo "${p#/proc/}"
    fi
  done
}

# Prints the pid of service $1 if its pid file names a live process whose command
# line or working directory lies in the service's own directory ("<svc>_home"); this
# guards against a recycled pid.
service_pid() {
  local f pid home
  f="$(pidfile "$1")"
  [[ -s "$f" ]] || return 1
  pid="$(<"$f")"
  [[ "$pid" =~ ^[0-9]+$ ]] && pid_running "$pid" || return 1
  home="$("${1}_home")"
  [[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)/" == "$home"/* ]] && { echo "$pid"; return 0; }
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$home" || return 1
  echo "$pid"
}

# True when something accepts TCP connections on $STACK_HOST:$1.
port_open() { (exec 3<>"/dev/tcp/$STACK_HOST/$1") 2>/dev/null; }

# True while pid $1 exists and is not a zombie.
pid_running() {
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ -n "$state" && "$state" != Z ]]
}

# Stops process $2 of service $1: SIGTERM, then SIGKILL after STOP_TIMEOUT seconds.
# Returns once the process is gone.
stop_pid() {
  local name="$1" pid="$2" ticks=0
  kill -TERM "$pid" 2>/dev/null || return 0
  while pid_running "$pid"; do
    if (( ticks == STOP_TIMEOUT * 10 )); then
      warn "$name (pid $pid) still running after ${STOP_TIMEOUT}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    (( ticks > STOP_TIMEOUT * 10 + 100 )) && die "$name (pid $pid) survived SIGKILL"
    sleep 0.1; ticks=$((ticks + 1))
  done
  # This machine's init reaps orphans lazily; give it a moment so no zombie lingers.
  for ticks in {1..50}; do [[ -e "/proc/$pid" ]] || break; sleep 0.1; done
}

# Tails the log file(s) of service $1 to stderr.
show_logs() {
  local f
  while read -r f; do
    [[ -s "$f" ]] || continue
    printf -- '--- last lines of %s ---\n' "$f" >&2
    tail -n 30 "$f" >&2
  done < <("${1}_log")
}

# Waits until service $1 passes its health check; gives up after $2 seconds or when
# the process dies, printing the tail of its log.
wait_healthy() {
  local svc="$1" timeout="$2" start=$SECONDS
  until "${svc}_healthy" >/dev/null 2>&1; do
    if ! service_alive "$svc"; then
      printf '%s%s exited during start-up%s\n' "$_R" "$svc" "$_N" >&2
      show_logs "$svc"; return 1
    fi
    if (( SECONDS - start >= timeout )); then
      printf '%s%s not healthy after %ss%s\n' "$_R" "$svc" "$timeout" "$_N" >&2
      show_logs "$svc"; return 1
    fi
    sleep 0.5
  done
  say "$svc healthy (${SECONDS}s)"
}

# Retries the health check of service $1 (not ours to watch) for up to $2 seconds.
retry_healthy() {
  local svc="$1" timeout="$2" start=$SECONDS
  until "${svc}_healthy" >/dev/null 2>&1; do
    (( SECONDS - start >= timeout )) && return 1
    sleep 1
  done
  say "$svc healthy (${SECONDS}s)"
}

# Launches "$@" detached (own session, stdin closed), output appended to $2, pid in
# the pid file of service $1.
launch() {
  local svc="$1" log="$2"; shift 2
  mkdir -p "$(dirname "$log")" "$STACK_RUN"
  setsid "$@" </dev/null >>"$log" 2>&1 9>&- &   # 9>&-: the service must not hold our lock
  echo $! >"$(pidfile "$svc")"
}

# Takes the stack lock (fd 9) so two up/down runs never interleave.
take_lock() {
  mkdir -p "$STACK_RUN"
  exec 9>"$STACK_RUN/stack.lock"
  if ! flock -n 9; then
    say "waiting for another stack command to finish (lock $STACK_RUN/stack.lock)"
    flock -w 300 9 || die "another stack command still holds $STACK_RUN/stack.lock after 300s"
  fi
}

# A Java 17+ home: ADDLINK_JAVA_HOME, else the newest suitable JDK found.
find_java_home() {
  local cand v
  for cand in "${ADDLINK_JAVA_HOME:-}" /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-21-openjdk-amd64 \
              /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-21-jdk-amd64 /usr/lib/jvm/*; do
    [[ -n "$cand" && -x "$cand/bin/java" ]] || continue
    v="$("$cand/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
    [[ "$v" =~ ^[0-9]+$ ]] && (( v >= 17 )) && { echo "$cand"; return 0; }
  done
  return 1
}

# The Python used for the Kafka round trip: one that can import confluent_kafka.
find_python() {
  local cand
  for cand in "${ADDLINK_STACK_PYTHON:-}" "$REPO_ROOT/.venv/bin/python"; do
    [[ -n "$cand" && -x "$cand" ]] && "$cand" -c 'import confluent_kafka' 2>/dev/null && { echo "$cand"; return 0; }
  done
  return 1
}
