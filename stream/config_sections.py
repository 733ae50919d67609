"""The tables of the configuration that describe services: Kafka, Redis, MariaDB, Elasticsearch,
the metrics listener, the consume loops and scoring. `stream.config` assembles them into Settings
and re-exports them; import them from there.

Every table is frozen and rejects unknown keys. Secrets follow one pattern (see `ConfigSection`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, FilePath, SecretStr, field_validator, model_validator

DAY_SECONDS = 86_400
SQL_IDENTIFIER = re.compile(r"^[A-Za-z0-9_]{1,64}$")

DEFAULT_SOURCE_TOPICS = (
    "eqiad.mediawiki.page_content_change.v1",
    "codfw.mediawiki.page_content_change.v1",
)


class ConfigSection(BaseModel):
    """A frozen table of the file; unknown keys are errors.

    Secrets: every name in `_secrets` is a pair of fields `<name>` (SecretStr) and `<name>_file`
    (an existing file); `secret(name)` returns whichever is set.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    _secrets: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _one_source_per_secret(self) -> ConfigSection:
        for name in self._secrets:
            if getattr(self, name) is not None and getattr(self, f"{name}_file") is not None:
                raise ValueError(f"set either {name} or {name}_file, not both")
        return self

    def has_secret(self, name: str) -> bool:
        """True when `<name>` or `<name>_file` is set (without reading the file)."""
        return getattr(self, name) is not None or getattr(self, f"{name}_file") is not None

    def secret(self, name: str) -> SecretStr | None:
        """The secret `name`, read from `<name>_file` at call time when that is the one set.

        Trailing newlines of the file are dropped (files written by `echo` or secret managers).
        """
        if name not in self._secrets:
            raise KeyError(name)
        inline: SecretStr | None = getattr(self, name)
        if inline is not None:
            return inline
        path: Path | None = getattr(self, f"{name}_file")
        if path is None:
            return None
        return SecretStr(path.read_text(encoding="utf-8").rstrip("\r\n"))


def no_credentials_in_url(url: str) -> str:
    if re.match(r"^[a-z][a-z0-9+.-]*://[^/@]*:[^/@]*@", url, flags=re.IGNORECASE):
        raise ValueError("credentials in the URL would be logged; use username and password or password_file")
    return url


class KafkaSettings(ConfigSection):
    """Brokers, client library, security, and the topics the pipeline reads and writes."""

    _secrets = ("sasl_password", "ssl_key_password")

    bootstrap_servers: str = Field(default="127.0.0.1:9092", description="host:port[,host:port...]")
    client: Literal["confluent", "kafka-python"] = "confluent"
    compression: Literal["zstd", "lz4", "snappy", "gzip", "none"] = Field(
        default="zstd",
        description="codec of every message produced; zstd: about gzip's ratio on wikitext at a fraction of its CPU",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    sasl_password_file: FilePath | None = None
    ssl_cafile: FilePath | None = None
    ssl_certfile: FilePath | None = None
    ssl_keyfile: FilePath | None = None
    ssl_key_password: SecretStr | None = None
    ssl_key_password_file: FilePath | None = None
    source_topics: tuple[str, ...] = DEFAULT_SOURCE_TOPICS
    work_topic: str = "addlink.work.v1"
    work_partitions: int = Field(default=12, ge=1)
    error_topic: str = "addlink.error"
    weighted_tags_topic: str = "eqiad.mediawiki.cirrussearch.page_weighted_tags_change.v1"
    ingest_group_id: str = "addlink-ingest"
    worker_group_id: str = "addlink-worker"
    extra_properties: dict[str, str] = Field(
        default_factory=dict, description="passed through to the client, e.g. librdkafka tuning"
    )

    @field_validator("bootstrap_servers")
    @classmethod
    def _host_ports(cls, value: str) -> str:
        servers = [part.strip() for part in value.split(",")]
        if not all(re.match(r"^[^\s:,]+:\d{1,5}$", server) for server in servers):
            raise ValueError("must be host:port, comma-separated for several brokers")
        return ",".join(servers)

    @field_validator("source_topics")
    @classmethod
    def _some_topic(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("must name at least one topic")
        return value

    @model_validator(mode="after")
    def _security_consistent(self) -> KafkaSettings:
        uses_sasl = self.security_protocol.startswith("SASL_")
        uses_ssl = self.security_protocol.endswith("SSL")
        if uses_sasl and not (self.sasl_mechanism and self.sasl_username and self.has_secret("sasl_password")):
            raise ValueError(
                f"security_protocol {self.security_protocol} needs sasl_mechanism, sasl_username "
                "and sasl_password or sasl_password_file"
            )
        if not uses_sasl and (self.sasl_mechanism or self.sasl_username or self.has_secret("sasl_password")):
            raise ValueError(f"sasl_* keys are set but security_protocol is {self.security_protocol}")
        if not uses_ssl and (self.ssl_cafile or self.ssl_certfile or self.ssl_keyfile):
            raise ValueError(f"ssl_* files are set but security_protocol is {self.security_protocol}")
        return self


class RedisSettings(ConfigSection):
    """The fleet's shared state (stream/pipeline/state.py); key names and TTLs are documented there."""

    _secrets = ("password",)

    url: str = Field(default="redis://127.0.0.1:6379/0", description="redis:// or rediss:// (TLS)")
    username: str | None = None
    password: SecretStr | None = None
    password_file: FilePath | None = None
    ssl_ca_certs: FilePath | None = None
    key_prefix: str = Field(default="addlink", pattern=r"^[A-Za-z0-9_.-]+$")
    latest_revision_ttl_s: int = Field(default=30 * DAY_SECONDS, ge=1)
    gone_title_ttl_s: int = Field(default=90 * DAY_SECONDS, ge=1)
    socket_timeout_s: float = Field(default=5.0, gt=0)

    @field_validator("url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if not re.match(r"^(redis|rediss|unix)://", value):
            raise ValueError("must start with redis://, rediss:// (TLS) or unix://")
        return no_credentials_in_url(value)

    @property
    def tls(self) -> bool:
        return self.url.startswith("rediss://")


class MariaDBSettings(ConfigSection):
    """Where GrowthExperiments' tables live: one database per wiki (as on x1) or one shared."""

    _secrets = ("password",)

    host: str = "127.0.0.1"
    port: int = Field(default=3306, ge=1, le=65535)
    user: str = "root"
    password: SecretStr | None = None
    password_file: FilePath | None = None
    tls: bool = Field(default=False, description="require TLS and verify the server (ssl_ca or the system CAs); "
                      "when false the driver still encrypts if the server offers it, without verification")
    ssl_ca: FilePath | None = None
    ssl_cert: FilePath | None = None
    ssl_key: FilePath | None = None
    per_wiki_database: bool = Field(default=True, description="database = wiki id (WMF x1 layout)")
    database: str | None = Field(default=None, description="the shared database when per_wiki_database is false")
    connect_timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("database")
    @classmethod
    def _database_name(cls, value: str | None) -> str | None:
        if value is not None and not SQL_IDENTIFIER.match(value):
            raise ValueError("must be 1-64 letters, digits or underscores")
        return value

    @model_validator(mode="after")
    def _shared_needs_name(self) -> MariaDBSettings:
        if not self.per_wiki_database and self.database is None:
            raise ValueError("per_wiki_database is false, so database (the shared one) must be set")
        if not self.tls and (self.ssl_ca or self.ssl_cert or self.ssl_key):
            raise ValueError("ssl_* files are set but tls is false")
        return self


class ElasticsearchSettings(ConfigSection):
    """The search cluster holding `weighted_tags` (used when tags_mode is "elasticsearch")."""

    _secrets = ("password",)

    url: str = "http://127.0.0.1:9200"
    username: str | None = None
    password: SecretStr | None = None
    password_file: FilePath | None = None
    ca_certs: FilePath | None = None
    verify_certs: bool = True
    index_pattern: str = "{wiki_id}_content"
    request_timeout_s: float = Field(default=30.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://", value):
            raise ValueError("must start with http:// or https://")
        return no_credentials_in_url(value)

    @field_validator("index_pattern")
    @classmethod
    def _has_wiki_id(cls, value: str) -> str:
        try:
            name = value.format(wiki_id="x")
        except (KeyError, IndexError, ValueError):
            raise ValueError("may only contain the placeholder {wiki_id}") from None
        if "{wiki_id}" not in value or name != name.lower():
            raise ValueError("must contain {wiki_id} and be lower-case")
        return value


class MetricsSettings(ConfigSection):
    """The /metrics and /healthz HTTP listener; loopback unless configured otherwise."""

    host: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535)


class PipelineSettings(ConfigSection):
    """Tuning of the consume loops (stream/pipeline/ingest.py, stream/pipeline/worker.py, stream/transport/checkpoint.py)."""

    commit_interval_s: float = Field(default=2.0, gt=0, description="checkpoint at least this often")
    commit_max_items: int = Field(default=500, ge=1, description="checkpoint after this many messages")
    commit_drained_s: float = Field(default=0.1, gt=0, description="checkpoint this soon (instead of after "
                                    "commit_interval_s) once a poll returned all there was: low latency when "
                                    "caught up, large commits under a backlog")
    poll_batch: int = Field(default=100, ge=1)
    session_timeout_ms: int = Field(default=10_000, ge=1_000, description="short: a killed worker's partitions move fast")
    shutdown_timeout_s: float = Field(default=30.0, gt=0, description="SIGTERM drain bound")
    backoff_max_s: float = Field(default=30.0, gt=0, description="retry cap while a sink is down")
    lag_interval_s: float = Field(default=10.0, gt=0, description="consumer-lag metric refresh")
    rejoin_after_s: float = Field(default=60.0, gt=0, description="a member left without partitions after a "
                                  "revocation joins the group afresh after this long (once per revocation)")
    fetch_missing_content: bool = Field(default=False, description="fetch text for page_change.v1 events")
    mediawiki_api_url_template: str = "https://{domain}/w/api.php"

    @field_validator("mediawiki_api_url_template")
    @classmethod
    def _has_domain(cls, value: str) -> str:
        if "{domain}" not in value or not re.match(r"^https?://", value):
            raise ValueError("must be an http(s) URL containing {domain}")
        try:
            value.format(domain="x")
        except (KeyError, IndexError, ValueError):
            raise ValueError("may only contain the placeholder {domain}") from None
        return no_credentials_in_url(value)


class ScoringSettings(ConfigSection):
    deadline_seconds: float = Field(default=5.0, gt=0, description="per article, parsing and scoring; slower = error event")
    memory_limit_mb: int | None = Field(default=2048, ge=256, description="address-space cap of the scoring process (None: none)")
    new_titles_refresh_s: float = Field(default=60.0, ge=0, description="how often the worker reads again the "
                                        "articles created since its bundles (Redis), which it offers as targets; "
                                        "a new article is suggested in other pages after at most this long")


class RegenerationSettings(ConfigSection):
    """The regeneration stage of `addlink run` (stream/pipeline/regeneration.py): after a wiki's model
    changes, its rows made by an older model are evaluated again, at most `rate` pages per second
    per process (one wiki at a time). The default, 2 pages/s (7,200 an hour), is of the order of
    GrowthExperiments' hourly refresh (5,000 pages an hour per wiki)."""

    rate: float = Field(default=2.0, ge=0, description="outdated pages fetched and queued per second; 0 = off")
    lease_s: float = Field(default=60.0, ge=5, description="a wiki's walk lease; renewed while walking, so a "
                           "stopped process's wiki is taken over after at most this long")
    check_interval_s: float = Field(default=60.0, gt=0, description="how often the wikis' models are compared "
                                    "with the walks' cursors")
    batch: int = Field(default=20, ge=1, description="work items produced (and the cursor saved) per batch")

    @model_validator(mode="after")
    def _pace_fits_the_lease(self) -> RegenerationSettings:
        # The lease is renewed between pages: one page's wait must leave time for that.
        if self.rate and 1.0 / self.rate > self.lease_s / 3:
            raise ValueError("rate is too low for lease_s: one page every 1/rate s must fit in a third of the lease")
        return self
