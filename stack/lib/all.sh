# shellcheck shell=bash
# Loads every stack module. Sourced by up.sh, down.sh and status.sh.
_stack_lib="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$_stack_lib/common.sh"
# shellcheck source=install.sh
source "$_stack_lib/install.sh"
# shellcheck source=tls.sh
source "$_stack_lib/tls.sh"
# shellcheck source=kafka.sh
source "$_stack_lib/kafka.sh"
# shellcheck source=elasticsearch.sh
source "$_stack_lib/elasticsearch.sh"
# shellcheck source=esproxy.sh
source "$_stack_lib/esproxy.sh"
# shellcheck source=mariadb.sh
source "$_stack_lib/mariadb.sh"
# shellcheck source=redis.sh
source "$_stack_lib/redis.sh"
# shellcheck source=report.sh
source "$_stack_lib/report.sh"
unset _stack_lib

# The TLS + basic-auth proxy in front of Elasticsearch is a service of its own (its own process,
# pid file, health check and log); it starts after Elasticsearch, which it forwards to.
SERVICES+=(esproxy)
START_ORDER+=(esproxy)
