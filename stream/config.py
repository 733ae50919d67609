"""Configuration: one YAML or TOML file, every key overridable from the environment.

Sources, first wins: keyword arguments to `load_settings`, then environment variables
`ADDLINK_<SECTION>__<KEY>` ("__" descends one level, so `ADDLINK_KAFKA__BOOTSTRAP_SERVERS` or
`ADDLINK_WIKIS__ELWIKI__MINIMUM_TIME_SINCE_LAST_EDIT` replace one key and leave its siblings
alone), then the file. Lists and tables given through the environment are JSON
(`ADDLINK_KAFKA__SOURCE_TOPICS='["a","b"]'`).

Guarantees:
- Unknown keys are errors everywhere (a typo never passes silently), in the file and in
  environment variables that use "__" nesting. A plain `ADDLINK_FOO` without "__" that names no
  top-level key is ignored, because the local stack scripts use such names for their own settings.
- `load_settings` raises `ConfigError` whose message lists every bad key as a dotted path, one per
  line (`wikis.elwiki.minimum_link_score: ...`), naming the environment variable when one set it.
  Input values are never echoed, so a secret cannot leak through an error message.
- Secrets are `SecretStr` (masked in repr, logs and JSON dumps), given either inline (meant for the
  environment) or as `<name>_file` (read when used, so rotated files are picked up on reconnect);
  setting both is an error. Credentials inside URLs are rejected: they would end up in logs.
- Relative paths (models, secret files, CA bundles) are relative to the working directory.
- Per-wiki task-type settings default to GrowthExperiments' `LinkRecommendationTaskType` defaults
  (reference growthexperiments.md §2.5); the metrics/health port binds to 127.0.0.1 unless set.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, FilePath, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from scoring.titles import normalise_title, read_title_list
from stream.config_sections import (
    DAY_SECONDS,
    ConfigSection,
    DEFAULT_SOURCE_TOPICS,
    SQL_IDENTIFIER,
    ElasticsearchSettings,
    KafkaSettings,
    MariaDBSettings,
    MetricsSettings,
    PipelineSettings,
    RedisSettings,
    RegenerationSettings,
    ScoringSettings,
)
from stream.errors import ConfigError

__all__ = [
    "DEFAULT_SOURCE_TOPICS",
    "ElasticsearchSettings",
    "KafkaSettings",
    "MariaDBSettings",
    "MetricsSettings",
    "PipelineSettings",
    "RedisSettings",
    "RegenerationSettings",
    "ScoringSettings",
    "Settings",
    "WikiSettings",
    "load_settings",
    "read_config_file",
]

ENV_PREFIX = "ADDLINK_"
ENV_NESTED_DELIMITER = "__"

_WIKI_ID = re.compile(r"^[a-z0-9_]+$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]+)*$")


class WikiSettings(ConfigSection):
    """One enabled wiki: its model, task-type settings (GrowthExperiments defaults) and database."""

    language: str = Field(description="content language code, e.g. 'el'")
    enabled: bool = True
    bundle_dir: Path | None = Field(default=None, description="model bundle; default <models_dir>/<wiki_id>")
    minimum_link_score: float = Field(default=0.6, ge=0.0, le=1.0)
    minimum_links_per_task: int = Field(default=2, ge=1)
    maximum_links_per_task: int = Field(default=10, ge=1)
    excluded_sections: tuple[str, ...] = ()
    excluded_targets: tuple[str, ...] = Field(
        default=(), description="titles never suggested as link targets (over-linking control, e.g. countries), "
        "nor the redirects to them; normalised like link targets; with excluded_targets_file's titles added"
    )
    excluded_targets_file: FilePath | None = Field(
        default=None, description="a list of more excluded targets, one title per line ('#' comments), read at load"
    )
    excluded_templates: tuple[str, ...] = ()
    excluded_categories: tuple[str, ...] = ()
    minimum_time_since_last_edit: int = Field(default=DAY_SECONDS, ge=0, description="seconds")
    minimum_word_count: int = Field(default=0, ge=0)
    maximum_word_count: int | None = Field(default=None, ge=0, description="None = no upper bound")
    disambiguation_templates: tuple[str, ...] | None = Field(
        default=None,
        description="replaces the bundle's list (templates of the wiki's dump holding __DISAMBIG__, and their "
        "redirects); None = the bundle's",
    )
    content_namespaces: tuple[int, ...] = (0,)
    database: str | None = Field(default=None, description="MariaDB database; default: wiki id or shared")

    @model_validator(mode="before")
    @classmethod
    def _read_excluded_targets_file(cls, data: Any) -> Any:
        path = data.get("excluded_targets_file") if isinstance(data, dict) else None
        if path is None:
            return data
        try:
            listed = read_title_list(path)
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"excluded_targets_file: cannot read a UTF-8 title list: {type(error).__name__}") from None
        return {**data, "excluded_targets": (*data.get("excluded_targets", ()), *listed)}

    @field_validator("excluded_targets")
    @classmethod
    def _normalised_targets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(title for title in map(normalise_title, value) if title))

    @field_validator("language")
    @classmethod
    def _language_code(cls, value: str) -> str:
        if not _LANGUAGE.match(value):
            raise ValueError("must be a lower-case language code such as 'el' or 'zh-hans'")
        return value

    @field_validator("database")
    @classmethod
    def _database_name(cls, value: str | None) -> str | None:
        if value is not None and not SQL_IDENTIFIER.match(value):
            raise ValueError("must be 1-64 letters, digits or underscores")
        return value

    @field_validator("content_namespaces")
    @classmethod
    def _some_namespace(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            raise ValueError("must list at least one namespace id")
        return value

    @model_validator(mode="after")
    def _bounds(self) -> WikiSettings:
        if self.maximum_links_per_task < self.minimum_links_per_task:
            raise ValueError("maximum_links_per_task must be >= minimum_links_per_task")
        if self.maximum_word_count is not None and self.maximum_word_count < self.minimum_word_count:
            raise ValueError("maximum_word_count must be >= minimum_word_count")
        return self


class Settings(BaseSettings):
    """Everything `addlink run`/`replay`/`produce`/`reconcile` need. Build with `load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        case_sensitive=False,
        extra="forbid",
        frozen=True,
        nested_model_default_partial_update=True,
    )

    kafka: KafkaSettings = KafkaSettings()
    redis: RedisSettings = RedisSettings()
    mariadb: MariaDBSettings = MariaDBSettings()
    elasticsearch: ElasticsearchSettings = ElasticsearchSettings()
    metrics: MetricsSettings = MetricsSettings()
    scoring: ScoringSettings = ScoringSettings()
    pipeline: PipelineSettings = PipelineSettings()
    regeneration: RegenerationSettings = RegenerationSettings()
    tags_mode: Literal["elasticsearch", "events"] = Field(
        default="elasticsearch", description="write weighted tags to ES, or emit page_weighted_tags_change"
    )
    models_dir: Path = Path("models")
    emitter_id: str = "addlink-stream"
    wikis: dict[str, WikiSettings] = Field(default_factory=dict)

    @field_validator("wikis")
    @classmethod
    def _wiki_ids(cls, value: dict[str, WikiSettings]) -> dict[str, WikiSettings]:
        bad = sorted(wiki_id for wiki_id in value if not _WIKI_ID.match(wiki_id))
        if bad:
            raise ValueError(f"wiki ids must be database names like 'elwiki' (got {', '.join(bad)})")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _FileSource(settings_cls))

    def wiki(self, wiki_id: str) -> WikiSettings | None:
        """The wiki's settings if it is configured and enabled, else None."""
        wiki = self.wikis.get(wiki_id)
        return wiki if wiki is not None and wiki.enabled else None

    def enabled_wikis(self) -> dict[str, WikiSettings]:
        return {wiki_id: wiki for wiki_id, wiki in self.wikis.items() if wiki.enabled}

    def database_for(self, wiki_id: str) -> str:
        """The MariaDB database holding this wiki's GrowthExperiments tables."""
        wiki = self.wikis.get(wiki_id)
        if wiki is not None and wiki.database is not None:
            return wiki.database
        if self.mariadb.per_wiki_database:
            return wiki_id
        assert self.mariadb.database is not None  # guaranteed by MariaDBSettings validation
        return self.mariadb.database

    def index_for(self, wiki_id: str) -> str:
        """The Elasticsearch content index of this wiki, from `elasticsearch.index_pattern`."""
        return self.elasticsearch.index_pattern.format(wiki_id=wiki_id)

    def bundle_dir_for(self, wiki_id: str) -> Path:
        """The wiki's model bundle directory: `wikis.<id>.bundle_dir` or `<models_dir>/<wiki_id>`."""
        wiki = self.wikis.get(wiki_id)
        if wiki is not None and wiki.bundle_dir is not None:
            return wiki.bundle_dir
        return self.models_dir / wiki_id


# The parsed file for the `load_settings` call in progress (a context variable, so concurrent
# loads in threads or tests cannot see each other's file).
_file_data: ContextVar[dict[str, Any]] = ContextVar("addlink_config_file_data", default={})


class _FileSource(PydanticBaseSettingsSource):
    """The configuration file, already parsed by `load_settings`; lowest precedence."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return _file_data.get().get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_file_data.get())


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Parse a YAML (.yaml/.yml) or TOML (.toml) file into a table; ConfigError if unreadable."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read configuration file {path}: {error.strerror or error}") from None
    try:
        if path.suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            raise ConfigError(f"configuration file {path}: use a .yaml, .yml or .toml file")
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"configuration file {path} is not valid {path.suffix[1:].upper()}: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"configuration file {path}: the top level must be a table of keys")
    return data


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Validated settings from `overrides`, then `ADDLINK_*` environment variables, then `path`.

    Raises ConfigError naming each bad key (dotted path, one per line) and the environment
    variable that set it, if any.
    """
    file_data = read_config_file(path) if path is not None else {}
    where = f" ({path})" if path is not None else ""
    problems = list(_unknown_nested_env_vars())
    token = _file_data.set(file_data)
    try:
        settings = Settings(**overrides)
    except ValidationError as error:
        problems.extend(_describe(error))
    finally:
        _file_data.reset(token)
    if problems:
        raise ConfigError(f"invalid configuration{where}:\n" + "\n".join(f"  {line}" for line in problems))
    return settings


def _unknown_nested_env_vars() -> Iterator[str]:
    """`ADDLINK_<X>__...` variables whose X is no top-level key (typos such as ADDLINK_KAFAK__...)."""
    known = set(Settings.model_fields)
    for name in sorted(os.environ):
        if name.upper().startswith(ENV_PREFIX) and ENV_NESTED_DELIMITER in name:
            head = name[len(ENV_PREFIX) :].split(ENV_NESTED_DELIMITER, 1)[0].lower()
            if head not in known:
                yield f"{head}: unknown key (from environment variable {name})"


def _describe(error: ValidationError) -> Iterator[str]:
    """One line per error: dotted key, message, and the environment variable if one set it."""
    for item in error.errors(include_input=False, include_url=False):
        # Union/literal errors add the tried type to the location; keep only real keys.
        keys = [str(part) for part in item["loc"] if not str(part).startswith(("function-", "literal["))]
        dotted = ".".join(keys) or "(top level)"
        message = "unknown key (typo?)" if item["type"] == "extra_forbidden" else item["msg"]
        message = message.removeprefix("Value error, ")
        env_name = ENV_PREFIX + ENV_NESTED_DELIMITER.join(keys).upper()
        source = f" (from environment variable {env_name})" if keys and _env_has(env_name) else ""
        yield f"{dotted}: {message}{source}"


def _env_has(name: str) -> bool:
    return any(key.upper() == name for key in os.environ)
