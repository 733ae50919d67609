"""The worker's view of the articles created since its bundle (stream/pipeline/new_titles.py): read
from the page state at most every refresh interval, without the bundle's own targets, with a version
that changes exactly when the titles do."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from model_fixture import publish_dictionary
from pipeline_fakes import FakeClock, FakePageState
from scoring.bundle import Bundle, load_bundle
from stream.pipeline.new_titles import NewTitlesReader

WIKI = "elwiki"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    root = tmp_path_factory.mktemp("new-titles")
    publish_dictionary(root, WIKI, "el", {"αθήνα": ["Αθήνα"]})
    return load_bundle(root, WIKI)


def test_new_articles_are_read_again_only_after_the_refresh_interval(bundle: Bundle) -> None:
    state, clock = FakePageState(), FakeClock()
    reader = NewTitlesReader(state, refresh_s=60, clock=clock)
    assert reader.get(WIKI, bundle).titles == ()
    state.mark_present(WIKI, "Νέα_Σμύρνη", T0, 10, article=True)
    state.mark_present(WIKI, "Αθήνα", T0, 11, article=True)  # recreated, but a target of the bundle already
    state.mark_present(WIKI, "Παλιό Φάληρο", T0, 12)  # a redirect
    assert reader.get(WIKI, bundle).titles == ()  # read 0 s ago
    clock.advance(60)
    first = reader.get(WIKI, bundle)
    assert first.titles == ("Νέα Σμύρνη",)
    clock.advance(60)
    assert reader.get(WIKI, bundle) is first  # unchanged: same version, nothing rebuilt downstream
    state.mark_gone(WIKI, "Νέα Σμύρνη", T0)
    clock.advance(60)
    gone = reader.get(WIKI, bundle)
    assert gone.titles == () and gone.version != first.version
