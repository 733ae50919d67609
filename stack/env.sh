# shellcheck shell=bash
# Connection settings of the local service stack (stack/up.sh).
#
#   source stack/env.sh          # exports ADDLINK_TEST_* for the integration tests
#   eval "$(bash stack/env.sh)"  # same, from any shell that can eval
#
# Host and ports come from ADDLINK_STACK_HOST and ADDLINK_{KAFKA,ES,MARIADB,REDIS}_PORT
# when set; the defaults are the standard ports on 127.0.0.1. The stack scripts read
# their defaults from here too, so this file is the single place they are written.
#
# Secured endpoints (tests/integration/test_security.py), next to the plain ones:
#   ADDLINK_TEST_SECURE_KAFKA          host:port of the SASL_SSL listener (SCRAM-SHA-512)
#                                      [ADDLINK_KAFKA_SASL_PORT, 9094]
#   ADDLINK_TEST_SECURE_ELASTICSEARCH  https://host:port, nginx with TLS + basic auth in front of
#                                      Elasticsearch [ADDLINK_ES_TLS_PORT, 9243]
#   ADDLINK_TEST_SECURE_MARIADB        mysql://user@host:port, a user that REQUIREs SSL (same port)
#   ADDLINK_TEST_SECURE_REDIS          rediss://host:port/0 [ADDLINK_REDIS_TLS_PORT, 6380]
#   ADDLINK_TEST_SECURE_USER           the user name on all four
#   ADDLINK_TEST_SECURE_DIR            ca.pem (the stack's CA) and <service>.password files
#                                      (kafka, elasticsearch, mariadb, redis) in <stack dir>/secure

: "${ADDLINK_STACK_HOST:=127.0.0.1}"
: "${ADDLINK_KAFKA_PORT:=9092}"
: "${ADDLINK_ES_PORT:=9200}"
: "${ADDLINK_MARIADB_PORT:=3306}"
: "${ADDLINK_REDIS_PORT:=6379}"
: "${ADDLINK_KAFKA_SASL_PORT:=9094}"
: "${ADDLINK_ES_TLS_PORT:=9243}"
: "${ADDLINK_REDIS_TLS_PORT:=6380}"

export ADDLINK_TEST_KAFKA="$ADDLINK_STACK_HOST:$ADDLINK_KAFKA_PORT"
export ADDLINK_TEST_ELASTICSEARCH="http://$ADDLINK_STACK_HOST:$ADDLINK_ES_PORT"
export ADDLINK_TEST_MARIADB="mysql://root@$ADDLINK_STACK_HOST:$ADDLINK_MARIADB_PORT"
export ADDLINK_TEST_REDIS="redis://$ADDLINK_STACK_HOST:$ADDLINK_REDIS_PORT/0"

export ADDLINK_TEST_SECURE_USER="addlink"   # SECURE_USER in stack/lib/tls.sh
export ADDLINK_TEST_SECURE_KAFKA="$ADDLINK_STACK_HOST:$ADDLINK_KAFKA_SASL_PORT"
export ADDLINK_TEST_SECURE_ELASTICSEARCH="https://$ADDLINK_STACK_HOST:$ADDLINK_ES_TLS_PORT"
export ADDLINK_TEST_SECURE_MARIADB="mysql://$ADDLINK_TEST_SECURE_USER@$ADDLINK_STACK_HOST:$ADDLINK_MARIADB_PORT"
export ADDLINK_TEST_SECURE_REDIS="rediss://$ADDLINK_STACK_HOST:$ADDLINK_REDIS_TLS_PORT/0"
ADDLINK_TEST_SECURE_DIR="${ADDLINK_STACK_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.stack}/secure"
export ADDLINK_TEST_SECURE_DIR

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then   # executed, not sourced: print for eval
  for _v in ADDLINK_TEST_KAFKA ADDLINK_TEST_ELASTICSEARCH ADDLINK_TEST_MARIADB ADDLINK_TEST_REDIS \
            ADDLINK_TEST_SECURE_USER ADDLINK_TEST_SECURE_KAFKA ADDLINK_TEST_SECURE_ELASTICSEARCH \
            ADDLINK_TEST_SECURE_MARIADB ADDLINK_TEST_SECURE_REDIS ADDLINK_TEST_SECURE_DIR; do
    printf 'export %s=%q\n' "$_v" "${!_v}"
  done
fi
