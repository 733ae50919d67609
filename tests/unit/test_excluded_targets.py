"""Over-linking control: excluded targets are never suggested, in scoring and in training.

Scoring on the hand-made bundle (model_fixture: anchors athens/paris/rome, "paris" -> Paris (7) or
Paris (mythology) (2), a redirect "Lutetia" -> Paris, a booster that scores by link probability);
training on the ltgwiki excerpt, excluding "Latveja" (Latvia), a country its model suggests.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import pytest

from model_fixture import LTG_EXCERPT, _manifest, trained_models, write_handmade
from pipeline_fakes import work_item
from scoring import backtest
from scoring.backtest import remove_links
from scoring.bundle import BundleWriter, load_bundle
from scoring.recommend import recommend
from scoring.titles import normalise_title, read_title_list
from scoring.train import train
from scoring.wikitext import parse_article
from stream.cli.train import excluded_targets, register
from stream.config import WikiSettings, load_settings
from stream.errors import AddlinkError, ConfigError
from stream.pipeline.scorers import ScoreRequest

TEXT = "Athens is old. Paris is large. Athens and Paris are capitals."
COUNTRY = "Latveja"


def links(bundle, text: str = TEXT, **options) -> list[tuple[str, str, int]]:
    result = recommend(text, title="Test", page_id=1, rev_id=1, bundle=bundle, threshold=0.0, max_links=None,
                       deadline_s=None, **options)
    return [(link.link_text, link.link_target, link.wikitext_offset) for link in result.links]


@pytest.fixture(scope="module")
def handmade(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("handmade")
    with BundleWriter(root, "testwiki") as writer:
        write_handmade(writer.directory)
        writer.write_manifest(_manifest(writer, "testwiki", "en"))
        writer.publish()
    return load_bundle(root, "testwiki")


def test_an_excluded_target_is_skipped_not_replaced_by_the_next_candidate(handmade) -> None:
    everything = links(handmade)
    assert {target for _, target, _ in everything} == {"Athens", "Paris"}
    without_paris = links(handmade, excluded_targets=["Paris"])
    # The mention "Paris" is dropped; "Paris (mythology)" (its other candidate) is not suggested instead.
    assert without_paris == [link for link in everything if link[1] != "Paris"]


@pytest.mark.parametrize("title", ["Lutetia", "paris", " Paris_", "Paris#History"])
def test_excluded_titles_are_normalised_and_redirects_resolved(handmade, title: str) -> None:
    assert "Paris" not in {target for _, target, _ in links(handmade, excluded_targets=[title])}


def test_titles_unknown_to_the_bundle_change_nothing(handmade) -> None:
    assert links(handmade, excluded_targets=["Nowhere", ""]) == links(handmade)


def test_a_bundle_trained_with_exclusions_applies_them_itself(tmp_path: Path) -> None:
    with BundleWriter(tmp_path, "testwiki") as writer:
        write_handmade(writer.directory)
        manifest = _manifest(writer, "testwiki", "en").model_copy(update={"excluded_targets": ("Athens",)})
        writer.write_manifest(manifest)
        writer.publish()
    bundle = load_bundle(tmp_path, "testwiki")
    assert {target for _, target, _ in links(bundle)} == {"Paris"}
    assert links(bundle, excluded_targets=["Paris"]) == []  # the caller's titles come on top


def test_title_list_file(tmp_path: Path) -> None:
    path = tmp_path / "countries.txt"
    path.write_text("# countries of Europe\nlatveja\n\n  Lietuva  \nUnited_Kingdom\nLatveja\n", encoding="utf-8")
    assert read_title_list(path) == ("Latveja", "Lietuva", "United Kingdom")


# --- training --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ltg_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The excerpt trained as usual, and trained again excluding COUNTRY (given in lower case)."""
    plain = trained_models(tmp_path_factory.mktemp("ltg-plain"))
    excluded = tmp_path_factory.mktemp("ltg-excluded")
    train(LTG_EXCERPT, excluded, wiki="ltgwiki", force=True, rounds=50, n_jobs=1, progress=False,
          excluded_targets=[COUNTRY.lower()])
    return plain, excluded


def suggested_targets(models: Path) -> Counter[str]:
    """Targets suggested (threshold 0) on the excerpt's test articles with their links removed."""
    bundle = load_bundle(models, "ltgwiki")
    found: Counter[str] = Counter()
    for page in backtest.test_articles(LTG_EXCERPT):
        text = remove_links(parse_article(page.text, bundle.namespaces), namespace_prefixes=bundle.namespace_prefixes).wikitext
        result = recommend(text, title=normalise_title(page.title), page_id=page.page_id, rev_id=page.rev_id,
                           bundle=bundle, threshold=0.0, max_links=None, deadline_s=None)
        found.update(link.link_target for link in result.links)
    return found


def test_training_without_an_excluded_target(ltg_models) -> None:
    plain, excluded = (load_bundle(models, "ltgwiki").manifest for models in ltg_models)
    assert plain.excluded_targets == () and excluded.excluded_targets == (COUNTRY,)
    assert excluded.training["excluded_targets"] == 1
    # Its rows are gone (positives among them: the excerpt links the country), nothing else changed.
    assert excluded.training["rows"] < plain.training["rows"]
    assert excluded.training["positives"] < plain.training["positives"]
    assert excluded.training["anchors"] == plain.training["anchors"]
    # The backtest does not count links to it as missed.
    assert excluded.gold_excluded.get("excluded target (over-linking control)", 0) > 0
    assert "excluded target (over-linking control)" not in plain.gold_excluded


def test_a_bundle_trained_without_a_target_never_suggests_it(ltg_models) -> None:
    plain, excluded = ltg_models
    assert suggested_targets(plain)[COUNTRY] > 0, "the plain model does suggest the country"
    assert suggested_targets(excluded)[COUNTRY] == 0


# --- configuration ---------------------------------------------------------------------------------


def test_configured_targets_and_list_file_are_merged_and_normalised(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "countries.txt").write_text("# one per line\nlatveja\nLietuva\n", encoding="utf-8")
    config = tmp_path / "addlink.yaml"
    config.write_text("wikis:\n  ltgwiki:\n    language: ltg\n    excluded_targets: [Reiga, latveja]\n"
                      "    excluded_targets_file: countries.txt\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # relative paths are relative to the working directory
    wiki = load_settings(config).wikis["ltgwiki"]
    assert wiki.excluded_targets == ("Reiga", "Latveja", "Lietuva")
    assert WikiSettings(language="ltg").excluded_targets == ()  # default: none


def test_an_unreadable_list_file_is_a_configuration_error(tmp_path: Path) -> None:
    config = tmp_path / "addlink.yaml"
    config.write_text(f"wikis:\n  ltgwiki:\n    language: ltg\n    excluded_targets_file: {tmp_path / 'nope.txt'}\n",
                      encoding="utf-8")
    with pytest.raises(ConfigError, match="wikis.ltgwiki"):
        load_settings(config)


def test_the_worker_passes_the_wiki_s_excluded_targets_to_the_scorer(handmade) -> None:
    wiki = WikiSettings(language="en", excluded_targets=("lutetia",))
    request = ScoreRequest.of(work_item(TEXT, wiki_id="testwiki"), wiki)
    assert request.excluded_targets == ("Lutetia",)
    assert links(handmade, excluded_targets=request.excluded_targets) == [
        link for link in links(handmade) if link[1] != "Paris"]


def test_addlink_train_reads_the_list_file_or_the_configuration(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "countries.txt").write_text("latveja\n", encoding="utf-8")
    config = tmp_path / "addlink.yaml"
    config.write_text("wikis:\n  ltgwiki:\n    language: ltg\n    excluded_targets: [Reiga]\n"
                      "    excluded_targets_file: countries.txt\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    common = ["train", "--wiki", "ltgwiki", "--dump", "d.xml", "--models", "m"]
    assert excluded_targets(parser.parse_args([*common, "--excluded-targets", "countries.txt"])) == ("Latveja",)
    assert excluded_targets(parser.parse_args([*common, "--config", str(config)])) == ("Reiga", "Latveja")
    assert excluded_targets(parser.parse_args(common)) == ()
    with pytest.raises(AddlinkError, match="nope.txt"):
        excluded_targets(parser.parse_args([*common, "--excluded-targets", "nope.txt"]))
