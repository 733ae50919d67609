"""The worker's view of the articles created since its bundle (stream/pipeline/new_titles.py): read
from the page state at most every refresh interval, with a version that changes exactly when the
titles do."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline_fakes import FakeClock, FakePageState
from stream.pipeline.new_titles import NewTitlesReader

WIKI = "elwiki"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_new_articles_are_read_again_only_after_the_refresh_interval() -> None:
    state, clock = FakePageState(), FakeClock()
    reader = NewTitlesReader(state, refresh_s=60, clock=clock)
    assert reader.get(WIKI).titles == ()
    state.mark_present(WIKI, "Νέα_Σμύρνη", T0, 10, article=True)
    state.mark_present(WIKI, "Παλιό Φάληρο", T0, 12)  # a redirect
    assert reader.get(WIKI).titles == ()  # read 0 s ago
    clock.advance(60)
    first = reader.get(WIKI)
    assert first.titles == ("Νέα Σμύρνη",)
    clock.advance(60)
    assert reader.get(WIKI) is first  # unchanged: same version, nothing rebuilt downstream
    state.mark_gone(WIKI, "Νέα Σμύρνη", T0)
    clock.advance(60)
    gone = reader.get(WIKI)
    assert gone.titles == () and gone.version != first.version
