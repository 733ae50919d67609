# shellcheck shell=bash
# Installs what the stack needs and is missing. Sourced by up.sh, after common.sh.
#
# Guarantees: each step is skipped when its result is already present; downloads go
# to $STACK_CACHE (outside the clone) so a fresh clone on the same machine reuses them;
# Debian services installed here are never left running (policy-rc.d during install).

APT_UPDATED=0

apt_install() {  # apt_install PACKAGE...
  (( EUID == 0 )) || die "missing Debian packages ($*); run as root or: sudo apt-get install -y $*"
  if (( APT_UPDATED == 0 )); then
    say "apt-get update"
    apt-get update -qq >"$STACK_LOGS/apt.log" 2>&1 || { tail -n 20 "$STACK_LOGS/apt.log" >&2; die "apt-get update failed"; }
    APT_UPDATED=1
  fi
  say "apt-get install $*"
  # A policy-rc.d that denies every start keeps the packages' own services from
  # starting (they would hold our ports); ours run from .stack/ instead.
  local policy=/usr/sbin/policy-rc.d own_policy=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
  fi
  local rc=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >>"$STACK_LOGS/apt.log" 2>&1 || rc=$?
  (( own_policy )) && rm -f "$policy"
  (( rc == 0 )) || { tail -n 20 "$STACK_LOGS/apt.log" >&2; die "apt-get install $* failed"; }
}

# Stops a Debian-managed instance of a service if one runs (it would hold our port).
stop_system_service() {  # stop_system_service NAME PIDFILE
  local name="$1" pf="$2" pid
  [[ -s "$pf" ]] || return 0
  pid="$(<"$pf")"
  kill -0 "$pid" 2>/dev/null || return 0
  warn "stopping the system's own $name (pid $pid); the stack runs its own instance"
  service "$name" stop >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
}

ensure_packages() {
  local missing=()
  command -v mariadbd >/dev/null || [[ -x /usr/sbin/mariadbd ]] || missing+=(mariadb-server-core)
  command -v mariadb >/dev/null || missing+=(mariadb-client-core)
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v redis-cli >/dev/null || missing+=(redis-tools)
  command -v mvn >/dev/null || missing+=(maven)
  command -v unzip >/dev/null || missing+=(unzip)
  command -v curl >/dev/null || missing+=(curl)
  command -v openssl >/dev/null || missing+=(openssl)
  command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
  find_java_home >/dev/null || missing+=(openjdk-17-jre-headless)
  (( ${#missing[@]} == 0 )) || apt_install "${missing[@]}"
  stop_system_service redis-server /run/redis/redis-server.pid
  stop_system_service mariadb /run/mysqld/mysqld.pid
  stop_system_service nginx /run/nginx.pid
}

mvn_quiet() {  # runs Maven against the stack's own local repository in the cache
  mvn -B -q -Dmaven.repo.local="$STACK_CACHE/m2" "$@" >>"$STACK_LOGS/maven.log" 2>&1 \
    || { tail -n 30 "$STACK_LOGS/maven.log" >&2; die "mvn $* failed (log: $STACK_LOGS/maven.log)"; }
}

# Kafka's jars (kafka_2.13 + runtime dependencies + a logging binding + the tools),
# resolved by Maven from stack/kafka/pom.xml into a directory named after the pom's
# hash, so a changed pom resolves anew.
kafka_lib_dir() {
  echo "$STACK_CACHE/kafka-$KAFKA_VERSION-$(sha256sum "$STACK_SRC/kafka/pom.xml" | cut -c1-12)/lib"
}

ensure_kafka_libs() {
  local lib; lib="$(kafka_lib_dir)"
  [[ -e "$lib/.complete" ]] && return 0
  say "resolving Kafka $KAFKA_VERSION jars from Maven Central into $lib"
  local work; work="$(dirname "$lib")"
  rm -rf "$lib"; mkdir -p "$work"
  sed "s/@KAFKA_VERSION@/$KAFKA_VERSION/g" "$STACK_SRC/kafka/pom.xml" >"$work/pom.xml"
  (cd "$work" && mvn_quiet org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$lib")
  touch "$lib/.complete"
}

es_zip() {
  echo "$STACK_CACHE/m2/org/elasticsearch/distribution/integ-test-zip/elasticsearch/$ES_VERSION/elasticsearch-$ES_VERSION.zip"
}

ensure_es_zip() {
  [[ -s "$(es_zip)" ]] && return 0
  say "downloading Elasticsearch $ES_VERSION (integ-test-zip) from Maven Central"
  mvn_quiet org.apache.maven.plugins:maven-dependency-plugin:3.8.1:get \
    -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" -Dtransitive=false
  [[ -s "$(es_zip)" ]] || die "Maven reported success but $(es_zip) is missing"
}

# Elasticsearch refuses to run as root: it runs as an unprivileged system user.
ensure_es_user() {
  (( EUID == 0 )) || return 0   # not root: ES runs as the invoking user
  id -u "$ES_USER" >/dev/null 2>&1 && return 0
  say "creating system user $ES_USER (runs Elasticsearch)"
  useradd --system --user-group --no-create-home --home-dir /nonexistent \
          --shell /usr/sbin/nologin "$ES_USER"
}

install_missing() {
  mkdir -p "$STACK_LOGS" "$STACK_CACHE"
  ensure_packages
  ensure_kafka_libs
  ensure_es_zip
  ensure_es_user
  ensure_secure_material
}
