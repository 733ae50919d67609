"""Health check of the local Kafka's SASL_SSL listener (stack/lib/kafka.sh).

Authenticates with SCRAM-SHA-512 over TLS (server certificate verified against the stack's CA,
host name included) and reads the cluster metadata. When the broker rejects the credentials, the
user's SCRAM credential is written once through the plaintext listener (a fresh cluster, or a
cluster formatted before the secured listener existed) and the check is repeated.

Exit 0 when authenticated metadata came back, 1 otherwise (reason on stderr, never the password).
Needs only confluent_kafka.
"""

import argparse
import logging
import sys
from pathlib import Path

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion

TIMEOUT_S = 5.0
ITERATIONS = 4096
QUIET = logging.getLogger("kafka_secure_check")
QUIET.addHandler(logging.NullHandler())  # librdkafka's own lines would only repeat the error
QUIET.propagate = False


class AuthFailed(Exception):
    pass


def secure_metadata(bootstrap: str, user: str, password: str, ca: str) -> None:
    """Raises AuthFailed when the broker rejects the credentials, KafkaException on other errors."""
    auth_errors: list[str] = []

    def on_error(error: KafkaError) -> None:
        if error.code() == KafkaError._AUTHENTICATION:
            auth_errors.append(error.str())

    admin = AdminClient({
        "bootstrap.servers": bootstrap, "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": user, "sasl.password": password, "ssl.ca.location": ca, "error_cb": on_error,
        "logger": QUIET,
    })
    try:
        metadata = admin.list_topics(timeout=TIMEOUT_S)
    except KafkaException:
        admin.poll(0.2)  # error callbacks are served by poll(), not by list_topics()
        if auth_errors:
            raise AuthFailed(auth_errors[0]) from None
        raise
    if not metadata.brokers:
        raise RuntimeError("no broker in the metadata")


def upsert_user(plain_bootstrap: str, user: str, password: str) -> None:
    admin = AdminClient({"bootstrap.servers": plain_bootstrap})
    upsert = UserScramCredentialUpsertion(user, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, ITERATIONS),
                                          password.encode())
    for future in admin.alter_user_scram_credentials([upsert], request_timeout=TIMEOUT_S).values():
        future.result(timeout=TIMEOUT_S)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plain", required=True, help="host:port of the PLAINTEXT listener")
    parser.add_argument("--secure", required=True, help="host:port of the SASL_SSL listener")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password-file", required=True, type=Path)
    parser.add_argument("--ca", required=True)
    args = parser.parse_args()
    password = args.password_file.read_text(encoding="utf-8").strip()
    try:
        try:
            secure_metadata(args.secure, args.user, password, args.ca)
        except AuthFailed:
            upsert_user(args.plain, args.user, password)
            secure_metadata(args.secure, args.user, password, args.ca)
    except Exception as exc:  # any failure means "not healthy"; the caller retries
        print(f"kafka SASL_SSL check failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
