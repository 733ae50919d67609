# shellcheck shell=bash
# TLS material and test credentials of the secured endpoints. Sourced after common.sh.
#
# Everything lives in $STACK_DIR/secure (git-ignored with the rest of .stack/, mode 700) and is
# generated once by openssl, then reused, so restarts keep the same CA and passwords:
#   ca.pem, ca.key            a self-signed CA (10 years), the only trust anchor clients need
#   server.pem, server.key    one server certificate for every secured endpoint, signed by the CA,
#                             SAN: $STACK_HOST, 127.0.0.1, ::1, localhost (re-issued if the host changes)
#   kafka-keystore.p12        server.key + chain for the Kafka broker; its password: kafka-keystore.password
#   <service>.password        random password of the test user $SECURE_USER for kafka, mariadb,
#                             redis and elasticsearch (one file each, no trailing newline)
# The services are configured with hashes where they accept them (MariaDB, Redis, the nginx in
# front of Elasticsearch); Kafka stores its SCRAM credential in the cluster metadata.

# Ports of the secured endpoints (defaults in stack/env.sh); MariaDB speaks TLS on its own port.
KAFKA_SASL_PORT="$ADDLINK_KAFKA_SASL_PORT"
REDIS_TLS_PORT="$ADDLINK_REDIS_TLS_PORT"
ES_TLS_PORT="$ADDLINK_ES_TLS_PORT"

SECURE_DIR="$STACK_DIR/secure"
SECURE_USER="$ADDLINK_TEST_SECURE_USER"   # set in stack/env.sh
SECURE_SERVICES=(kafka mariadb redis elasticsearch)

secure_file() { echo "$SECURE_DIR/$1"; }
secure_password() { cat "$SECURE_DIR/$1.password"; }

_tls_san() {
  local san="DNS:localhost,IP:127.0.0.1,IP:::1"
  if [[ "$STACK_HOST" =~ ^[0-9.]+$ || "$STACK_HOST" == *:* ]]; then
    [[ ",$san," == *",IP:$STACK_HOST,"* ]] || san+=",IP:$STACK_HOST"
  elif [[ "$STACK_HOST" != localhost ]]; then
    san+=",DNS:$STACK_HOST"
  fi
  echo "$san"
}

_tls_make_ca() {
  say "creating the stack's TLS CA in $SECURE_DIR"
  openssl req -x509 -new -nodes -newkey rsa:2048 -sha256 -days 3650 -subj "/CN=addlink-stack local CA" \
    -keyout "$SECURE_DIR/ca.key" -out "$SECURE_DIR/ca.pem" 2>>"$STACK_LOGS/tls.log" \
    || die "openssl: creating the CA failed (log: $STACK_LOGS/tls.log)"
  rm -f "$SECURE_DIR/server.pem"   # a new CA invalidates the old server certificate
}

_tls_make_server_cert() {
  say "issuing the stack's server certificate ($(_tls_san))"
  local csr="$SECURE_DIR/server.csr" ext="$SECURE_DIR/server.ext"
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n' \
    "$(_tls_san)" >"$ext"
  { openssl req -new -nodes -newkey rsa:2048 -sha256 -subj "/CN=$STACK_HOST" \
      -keyout "$SECURE_DIR/server.key" -out "$csr" \
    && openssl x509 -req -in "$csr" -CA "$SECURE_DIR/ca.pem" -CAkey "$SECURE_DIR/ca.key" -CAcreateserial \
      -days 825 -sha256 -extfile "$ext" -out "$SECURE_DIR/server.pem"; } 2>>"$STACK_LOGS/tls.log" \
    || die "openssl: issuing the server certificate failed (log: $STACK_LOGS/tls.log)"
  rm -f "$csr" "$ext" "$SECURE_DIR/kafka-keystore.p12"
}

_tls_make_kafka_keystore() {
  openssl pkcs12 -export -name kafka -in "$SECURE_DIR/server.pem" -certfile "$SECURE_DIR/ca.pem" \
    -inkey "$SECURE_DIR/server.key" -out "$SECURE_DIR/kafka-keystore.p12" \
    -passout "file:$SECURE_DIR/kafka-keystore.password" 2>>"$STACK_LOGS/tls.log" \
    || die "openssl: writing the Kafka keystore failed (log: $STACK_LOGS/tls.log)"
}

# Creates whatever is missing of the CA, server certificate, keystore and passwords; idempotent.
ensure_secure_material() {
  mkdir -p "$SECURE_DIR" "$STACK_LOGS"
  chmod 700 "$SECURE_DIR"
  local name
  (umask 077
   for name in "${SECURE_SERVICES[@]}" kafka-keystore; do
     [[ -s "$SECURE_DIR/$name.password" ]] || printf '%s' "$(openssl rand -hex 16)" >"$SECURE_DIR/$name.password"
   done)
  [[ -s "$SECURE_DIR/ca.pem" && -s "$SECURE_DIR/ca.key" ]] || _tls_make_ca
  if [[ ! -s "$SECURE_DIR/server.pem" ]] \
     || ! openssl verify -CAfile "$SECURE_DIR/ca.pem" "$SECURE_DIR/server.pem" >/dev/null 2>&1 \
     || ! openssl x509 -in "$SECURE_DIR/server.pem" -noout -checkend 86400 >/dev/null 2>&1 \
     || ! openssl x509 -in "$SECURE_DIR/server.pem" -noout -ext subjectAltName 2>/dev/null | grep -qF -- "$STACK_HOST"; then
    (umask 077; _tls_make_server_cert)
  fi
  [[ -s "$SECURE_DIR/kafka-keystore.p12" ]] || (umask 077; _tls_make_kafka_keystore)
  chmod 644 "$SECURE_DIR/ca.pem"
}
