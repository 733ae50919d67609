"""`addlink bench backfill`: the figures it reports from a run's counts and seconds."""

from __future__ import annotations

from stream.bench.backfill import BackfillRun, FirstScored


def run(**changes) -> BackfillRun:
    fields = dict(articles=500, eligible=480, rows=290, tags=290, produce_seconds=1.0, replay_seconds=5.0,
                  startup_seconds=1.0)
    return BackfillRun(**(fields | changes))


def test_rates_are_over_the_replay_over_produce_and_replay_and_after_start_up() -> None:
    figures = run().figures()
    assert figures["articles_per_second_replay"] == 100.0
    assert figures["articles_per_second_produce_and_replay"] == 83.3
    assert figures["articles_per_second_after_startup"] == 125.0
    assert figures["eligible_per_second_replay"] == 96.0
    assert figures["rows_equal_tags"] is True


def test_rows_and_tags_that_differ_fail_the_check() -> None:
    assert run(tags=289).figures()["rows_equal_tags"] is False


def test_a_run_that_scored_nothing_has_no_start_up_nor_steady_rate() -> None:
    figures = run(startup_seconds=None, rows=0, tags=0).figures()
    assert figures["startup_seconds"] is None and figures["articles_per_second_after_startup"] is None


def test_seconds_are_rounded_counts_are_kept() -> None:
    figures = run(produce_seconds=1.23456, articles=7).figures()
    assert figures["produce_seconds"] == 1.23 and figures["articles"] == 7


def test_first_scored_keeps_the_first_time() -> None:
    first = FirstScored()
    assert first.at is None
    first.on_scored("elwiki", 0.1)
    at = first.at
    first.on_scored("elwiki", 0.1)
    assert at is not None and first.at == at
