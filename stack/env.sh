# shellcheck shell=bash
# Connection settings of the local service stack (stack/up.sh).
#
#   source stack/env.sh          # exports ADDLINK_TEST_* for the integration tests
#   eval "$(bash stack/env.sh)"  # same, from any shell that can eval
#
# Host and ports come from ADDLINK_STACK_HOST and ADDLINK_{KAFKA,ES,MARIADB,REDIS}_PORT
# when set; the defaults are the standard ports on 127.0.0.1. The stack scripts read
# their defaults from here too, so this file is the single place they are written.

: "${ADDLINK_STACK_HOST:=127.0.0.1}"
: "${ADDLINK_KAFKA_PORT:=9092}"
: "${ADDLINK_ES_PORT:=9200}"
: "${ADDLINK_MARIADB_PORT:=3306}"
: "${ADDLINK_REDIS_PORT:=6379}"

export ADDLINK_TEST_KAFKA="$ADDLINK_STACK_HOST:$ADDLINK_KAFKA_PORT"
export ADDLINK_TEST_ELASTICSEARCH="http://$ADDLINK_STACK_HOST:$ADDLINK_ES_PORT"
export ADDLINK_TEST_MARIADB="mysql://root@$ADDLINK_STACK_HOST:$ADDLINK_MARIADB_PORT"
export ADDLINK_TEST_REDIS="redis://$ADDLINK_STACK_HOST:$ADDLINK_REDIS_PORT/0"

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then   # executed, not sourced: print for eval
  for _v in ADDLINK_TEST_KAFKA ADDLINK_TEST_ELASTICSEARCH ADDLINK_TEST_MARIADB ADDLINK_TEST_REDIS; do
    printf 'export %s=%q\n' "$_v" "${!_v}"
  done
fi
