"""stream.config: file + environment + constructor, validation errors naming keys, secrets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from stream.config import (
    DEFAULT_SOURCE_TOPICS,
    Settings,
    WikiSettings,
    load_settings,
)
from stream.errors import AddlinkError, ConfigError

REPO = Path(__file__).resolve().parents[2]
STACK_CONFIG = REPO / "stack" / "addlink.yaml"
SAMPLE_WIKIS = {"elwiki": "el", "ukwiki": "uk", "viwiki": "vi", "jawiki": "ja", "mrwiki": "mr", "ltgwiki": "ltg"}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stack's env.sh exports ADDLINK_* settings; every test starts without them."""
    for name in list(os.environ):
        if name.upper().startswith("ADDLINK_"):
            monkeypatch.delenv(name)


def write(tmp_path: Path, text: str, name: str = "addlink.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(*args: object, **kwargs: object) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(*args, **kwargs)  # type: ignore[arg-type]
    return str(caught.value)


# --- the local stack's file and GrowthExperiments' defaults -----------------------------------


def test_stack_config_enables_the_six_sample_wikis_with_their_languages() -> None:
    settings = load_settings(STACK_CONFIG)
    assert {wiki_id: wiki.language for wiki_id, wiki in settings.enabled_wikis().items()} == SAMPLE_WIKIS
    assert settings.models_dir == Path("models")
    assert settings.kafka.bootstrap_servers == "127.0.0.1:9092"
    assert settings.redis.url == "redis://127.0.0.1:6379/0"
    assert (settings.mariadb.host, settings.mariadb.port, settings.mariadb.user) == ("127.0.0.1", 3306, "root")
    assert settings.elasticsearch.url == "http://127.0.0.1:9200"


def test_wiki_defaults_are_growthexperiments_task_type_defaults() -> None:
    wiki = WikiSettings(language="el")
    assert wiki.minimum_link_score == 0.6
    assert wiki.minimum_links_per_task == 2
    assert wiki.maximum_links_per_task == 10
    assert wiki.excluded_sections == wiki.excluded_templates == wiki.excluded_categories == ()
    assert wiki.minimum_time_since_last_edit == 86400
    assert (wiki.minimum_word_count, wiki.maximum_word_count) == (0, None)
    assert wiki.content_namespaces == (0,)
    assert wiki.enabled and wiki.database is None and wiki.bundle_dir is None


def test_disambiguation_templates_come_from_the_bundle_unless_configured() -> None:
    # No language table: None means "the bundle's list", derived from the wiki's dump.
    assert WikiSettings(language="el").disambiguation_templates is None
    assert WikiSettings(language="el", disambiguation_templates=["Dab"]).disambiguation_templates == ("Dab",)


def test_service_defaults() -> None:
    settings = load_settings()
    assert settings.kafka.source_topics == DEFAULT_SOURCE_TOPICS
    assert settings.kafka.work_topic == "addlink.work.v1" and settings.kafka.work_partitions == 12
    assert settings.metrics.host == "127.0.0.1"
    assert settings.elasticsearch.index_pattern == "{wiki_id}_content"
    assert settings.tags_mode == "elasticsearch"
    assert settings.scoring.deadline_seconds == 5.0
    assert (settings.pipeline.commit_interval_s, settings.pipeline.commit_max_items) == (2.0, 500)
    assert not settings.pipeline.fetch_missing_content
    assert settings.wikis == {}


def test_toml_file_is_read_like_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, '[kafka]\nwork_partitions = 3\n[wikis.elwiki]\nlanguage = "el"\n', "addlink.toml")
    settings = load_settings(path)
    assert settings.kafka.work_partitions == 3 and settings.wikis["elwiki"].language == "el"


# --- precedence: constructor, environment, file -----------------------------------------------


def test_environment_overrides_one_key_and_keeps_its_siblings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADDLINK_KAFKA__BOOTSTRAP_SERVERS", "broker-1:9093,broker-2:9093")
    settings = load_settings(STACK_CONFIG)
    assert settings.kafka.bootstrap_servers == "broker-1:9093,broker-2:9093"
    assert settings.kafka.work_topic == "addlink.work.v1"  # sibling from the file
    assert settings.kafka.source_topics == DEFAULT_SOURCE_TOPICS


def test_environment_overrides_one_key_of_one_wiki(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADDLINK_WIKIS__ELWIKI__MINIMUM_TIME_SINCE_LAST_EDIT", "0")
    settings = load_settings(STACK_CONFIG)
    assert settings.wikis["elwiki"].minimum_time_since_last_edit == 0
    assert settings.wikis["elwiki"].language == "el"
    assert settings.wikis["ukwiki"].minimum_time_since_last_edit == 86400
    assert set(settings.wikis) == set(SAMPLE_WIKIS)


def test_environment_lists_are_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADDLINK_KAFKA__SOURCE_TOPICS", '["local.page_content_change"]')
    monkeypatch.setenv("ADDLINK_WIKIS__LTGWIKI__EXCLUDED_TEMPLATES", '["Nadabeigts rakstīņs"]')
    settings = load_settings(STACK_CONFIG)
    assert settings.kafka.source_topics == ("local.page_content_change",)
    assert settings.wikis["ltgwiki"].excluded_templates == ("Nadabeigts rakstīņs",)


def test_precedence_is_constructor_then_environment_then_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "kafka:\n  work_partitions: 3\n  error_topic: from-file\n  work_topic: from-file\n")
    monkeypatch.setenv("ADDLINK_KAFKA__WORK_PARTITIONS", "5")
    monkeypatch.setenv("ADDLINK_KAFKA__ERROR_TOPIC", "from-env")
    settings = load_settings(path, kafka={"work_partitions": 7})
    assert settings.kafka.work_partitions == 7
    assert settings.kafka.error_topic == "from-env"
    assert settings.kafka.work_topic == "from-file"


def test_unrelated_addlink_variables_of_the_stack_scripts_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADDLINK_KAFKA_PORT", "19092")
    monkeypatch.setenv("ADDLINK_STACK_DIR", "/tmp/x")
    assert load_settings(STACK_CONFIG).kafka.bootstrap_servers == "127.0.0.1:9092"


# --- errors name each bad key -----------------------------------------------------------------


def test_unknown_keys_in_the_file_are_errors_with_dotted_paths(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "kafka:\n  bootstrap_server: x:1\nwikis:\n  elwiki:\n    language: el\n    minimum_link_scor: 0.5\nmetric: {}\n",
    )
    assert config_error(path).splitlines() == [
        f"invalid configuration ({path}):",
        "  kafka.bootstrap_server: unknown key (typo?)",
        "  wikis.elwiki.minimum_link_scor: unknown key (typo?)",
        "  metric: unknown key (typo?)",
    ]


@pytest.mark.parametrize(
    ("yaml_text", "expected_line"),
    [
        ("kafka:\n  work_partitions: many\n", "kafka.work_partitions: Input should be a valid integer"),
        ("kafka:\n  work_partitions: 0\n", "kafka.work_partitions: Input should be greater than or equal to 1"),
        ("kafka:\n  client: java\n", "kafka.client: Input should be 'confluent' or 'kafka-python'"),
        ("kafka:\n  bootstrap_servers: localhost\n", "kafka.bootstrap_servers: must be host:port"),
        ("kafka:\n  source_topics: []\n", "kafka.source_topics: must name at least one topic"),
        ("wikis:\n  elwiki:\n    language: el\n    minimum_link_score: 1.5\n", "wikis.elwiki.minimum_link_score: Input should be less than or equal to 1"),
        ("wikis:\n  elwiki:\n    minimum_link_score: 0.5\n", "wikis.elwiki.language: Field required"),
        ("wikis:\n  elwiki:\n    language: Greek\n", "wikis.elwiki.language: must be a lower-case language code"),
        ("wikis:\n  elwiki:\n    language: el\n    maximum_links_per_task: 1\n", "wikis.elwiki: maximum_links_per_task must be >= minimum_links_per_task"),
        ("wikis:\n  elwiki:\n    language: el\n    minimum_word_count: 10\n    maximum_word_count: 5\n", "wikis.elwiki: maximum_word_count must be >= minimum_word_count"),
        ("wikis:\n  elwiki:\n    language: el\n    content_namespaces: []\n", "wikis.elwiki.content_namespaces: must list at least one namespace id"),
        ("wikis:\n  elwiki:\n    language: el\n    database: 'el; DROP'\n", "wikis.elwiki.database: must be 1-64 letters, digits or underscores"),
        ("wikis:\n  El-Wiki:\n    language: el\n", "wikis: wiki ids must be database names like 'elwiki' (got El-Wiki)"),
        ("mariadb:\n  per_wiki_database: false\n", "mariadb: per_wiki_database is false, so database (the shared one) must be set"),
        ("elasticsearch:\n  index_pattern: content\n", "elasticsearch.index_pattern: must contain {wiki_id} and be lower-case"),
        ("elasticsearch:\n  index_pattern: '{wiki}_content'\n", "elasticsearch.index_pattern: may only contain the placeholder {wiki_id}"),
        ("elasticsearch:\n  url: 'https://u:p@es:9200'\n", "elasticsearch.url: credentials in the URL would be logged"),
        ("redis:\n  url: 'redis://:pw@localhost:6379'\n", "redis.url: credentials in the URL would be logged"),
        ("redis:\n  url: 'localhost:6379'\n", "redis.url: must start with redis://"),
        ("pipeline:\n  mediawiki_api_url_template: 'https://api.example/'\n", "pipeline.mediawiki_api_url_template: must be an http(s) URL containing {domain}"),
        ("pipeline:\n  session_timeout_ms: 10\n", "pipeline.session_timeout_ms: Input should be greater than or equal to 1000"),
        ("metrics:\n  port: 70000\n", "metrics.port: Input should be less than or equal to 65535"),
        ("regeneration:\n  rate: -1\n", "regeneration.rate: Input should be greater than or equal to 0"),
        ("regeneration:\n  rate: 0.01\n", "regeneration: rate is too low for lease_s"),
        ("tags_mode: solr\n", "tags_mode: Input should be 'elasticsearch' or 'events'"),
        ("kafka:\n  security_protocol: SASL_SSL\n", "kafka: security_protocol SASL_SSL needs sasl_mechanism, sasl_username"),
        ("kafka:\n  sasl_username: bob\n", "kafka: sasl_* keys are set but security_protocol is PLAINTEXT"),
        ("mariadb:\n  password_file: /nonexistent/secret\n", "mariadb.password_file: Path does not point to a file"),
    ],
)
def test_each_bad_value_is_reported_under_its_dotted_key(tmp_path: Path, yaml_text: str, expected_line: str) -> None:
    message = config_error(write(tmp_path, yaml_text))
    assert any(line.strip().startswith(expected_line) for line in message.splitlines()[1:]), message


def test_all_problems_are_listed_one_per_line(tmp_path: Path) -> None:
    path = write(tmp_path, "kafka:\n  work_partitions: 0\nmetrics:\n  port: -1\nwikis:\n  elwiki: {language: el, minimum_link_score: 2}\n")
    lines = config_error(path).splitlines()
    assert len(lines) == 4
    assert [line.split(":")[0].strip() for line in lines[1:]] == [
        "kafka.work_partitions",
        "metrics.port",
        "wikis.elwiki.minimum_link_score",
    ]


def test_errors_name_the_environment_variable_that_set_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADDLINK_WIKIS__ELWIKI__MINIMUM_LINK_SCORE", "2")
    monkeypatch.setenv("ADDLINK_KAFKA__BOOTSTRAP_SERVER", "x:1")
    message = config_error(STACK_CONFIG)
    assert "wikis.elwiki.minimum_link_score: Input should be less than or equal to 1 " \
        "(from environment variable ADDLINK_WIKIS__ELWIKI__MINIMUM_LINK_SCORE)" in message
    assert "kafka.bootstrap_server: unknown key (typo?) (from environment variable ADDLINK_KAFKA__BOOTSTRAP_SERVER)" in message


def test_a_misspelt_section_in_the_environment_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADDLINK_KAFAK__BOOTSTRAP_SERVERS", "x:1")
    assert "kafak: unknown key (from environment variable ADDLINK_KAFAK__BOOTSTRAP_SERVERS)" in config_error(STACK_CONFIG)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("missing.yaml", None, "cannot read configuration file"),
        ("broken.yaml", "kafka: [unclosed\n", "is not valid YAML"),
        ("broken.toml", "[kafka\n", "is not valid TOML"),
        ("list.yaml", "- a\n- b\n", "the top level must be a table of keys"),
        ("addlink.json", "{}", "use a .yaml, .yml or .toml file"),
    ],
)
def test_unreadable_files_are_config_errors(tmp_path: Path, name: str, content: str | None, expected: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert expected in config_error(path)


def test_config_error_exits_2() -> None:
    assert issubclass(ConfigError, AddlinkError) and ConfigError("x").exit_code == 2


# --- secrets ------------------------------------------------------------------------------------


def test_secrets_from_the_environment_never_appear_in_repr_dumps_or_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADDLINK_MARIADB__PASSWORD", "hunter2-mariadb")
    monkeypatch.setenv("ADDLINK_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("ADDLINK_KAFKA__SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("ADDLINK_KAFKA__SASL_USERNAME", "addlink")
    monkeypatch.setenv("ADDLINK_KAFKA__SASL_PASSWORD", "hunter2-kafka")
    settings = load_settings(STACK_CONFIG)
    assert settings.mariadb.secret("password").get_secret_value() == "hunter2-mariadb"
    assert settings.kafka.secret("sasl_password").get_secret_value() == "hunter2-kafka"
    for text in (repr(settings), str(settings), settings.model_dump_json(), json.dumps(settings.model_dump(), default=str)):
        assert "hunter2" not in text
    monkeypatch.setenv("ADDLINK_METRICS__PORT", "not-a-port")
    assert "hunter2" not in config_error(STACK_CONFIG)


def test_secret_files_are_read_when_used(tmp_path: Path) -> None:
    secret = tmp_path / "redis.pass"
    secret.write_text("s3cret\n", encoding="utf-8")
    settings = load_settings(write(tmp_path, f"redis:\n  password_file: {secret}\n"))
    assert settings.redis.secret("password").get_secret_value() == "s3cret"
    secret.write_text("rotated\n", encoding="utf-8")
    assert settings.redis.secret("password").get_secret_value() == "rotated"
    assert settings.mariadb.secret("password") is None


def test_a_secret_given_twice_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "es.pass"
    secret.write_text("x", encoding="utf-8")
    monkeypatch.setenv("ADDLINK_ELASTICSEARCH__PASSWORD", "y")
    message = config_error(write(tmp_path, f"elasticsearch:\n  password_file: {secret}\n"))
    assert "elasticsearch: set either password or password_file, not both" in message


# --- derived values -----------------------------------------------------------------------------


def test_database_per_wiki_shared_or_overridden() -> None:
    per_wiki = load_settings(wikis={"elwiki": {"language": "el"}, "ukwiki": {"language": "uk", "database": "x1_uk"}})
    assert per_wiki.database_for("elwiki") == "elwiki"
    assert per_wiki.database_for("ukwiki") == "x1_uk"
    shared = load_settings(mariadb={"per_wiki_database": False, "database": "growth"}, wikis={"elwiki": {"language": "el"}})
    assert shared.database_for("elwiki") == "growth"


def test_index_bundle_and_enabled_wikis() -> None:
    settings = load_settings(
        elasticsearch={"index_pattern": "{wiki_id}_content_first"},
        models_dir="/srv/models",
        wikis={"elwiki": {"language": "el"}, "ukwiki": {"language": "uk", "enabled": False, "bundle_dir": "/b/uk"}},
    )
    assert settings.index_for("elwiki") == "elwiki_content_first"
    assert settings.bundle_dir_for("elwiki") == Path("/srv/models/elwiki")
    assert settings.bundle_dir_for("ukwiki") == Path("/b/uk")
    assert settings.wiki("elwiki") is not None
    assert settings.wiki("ukwiki") is None and settings.wiki("dewiki") is None
    assert list(settings.enabled_wikis()) == ["elwiki"]


def test_settings_are_frozen() -> None:
    settings = load_settings(STACK_CONFIG)
    with pytest.raises(Exception):
        settings.kafka.work_partitions = 1  # type: ignore[misc]
    assert isinstance(settings, Settings)
