"""`addlink reconcile`'s refusals (exit 2) happen before any service is contacted."""

from __future__ import annotations

import pytest

from stream.cli import main
from stream.cli.reconcile import reconcile
from stream.config import Settings
from stream.errors import AddlinkError

WIKIS = {"elwiki": {"language": "el"}, "viwiki": {"language": "vi", "enabled": False}}


@pytest.mark.parametrize(("settings", "wiki", "options", "message"), [
    (Settings(wikis=WIKIS), "viwiki", {}, "not configured and enabled"),
    (Settings(wikis=WIKIS), "dewiki", {}, "not configured and enabled"),
    (Settings(wikis=WIKIS, tags_mode="events"), "elwiki", {}, "tags_mode is 'events'"),
    (Settings(wikis=WIKIS), "elwiki", {"batch_size": 0}, "--batch-size"),
    (Settings(wikis=WIKIS), "elwiki", {"grace_s": -1.0}, "--grace-seconds"),
])
def test_refusals_name_the_problem(settings: Settings, wiki: str, options: dict, message: str) -> None:
    with pytest.raises(AddlinkError, match=message):
        reconcile(settings, wiki, **options)


def test_cli_exits_2_with_one_line(tmp_path, capsys) -> None:
    config = tmp_path / "addlink.yaml"
    config.write_text("tags_mode: events\nwikis:\n  elwiki:\n    language: el\n", encoding="utf-8")
    assert main(["reconcile", "--config", str(config), "--wiki", "elwiki", "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("addlink reconcile: tags_mode is 'events'")
    assert len(captured.err.strip().splitlines()) == 1
