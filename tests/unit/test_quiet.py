"""Quiet-period scheduling: holds, ripe partitions, wake-up times, on an injected clock."""

from __future__ import annotations

from stream.core.quiet import QuietSchedule
from pipeline_fakes import FakeClock

TP0 = ("addlink.work.v1", 0)
TP1 = ("addlink.work.v1", 1)


def test_nothing_held_means_no_wakeup_and_nothing_ripe() -> None:
    schedule = QuietSchedule(FakeClock())
    assert schedule.next_wakeup() is None
    assert schedule.take_ripe() == []


def test_seconds_until_is_measured_on_the_wall_clock() -> None:
    clock = FakeClock(wall=1_000.0)
    schedule = QuietSchedule(clock)
    assert schedule.seconds_until(1_060.0) == 60.0
    assert schedule.seconds_until(990.0) == -10.0


def test_a_held_partition_ripens_exactly_at_its_due_time() -> None:
    clock = FakeClock(wall=1_000.0, monotonic=50.0)
    schedule = QuietSchedule(clock)
    schedule.hold(TP0, offset=7, due_wall=1_030.0)
    assert schedule.is_held(TP0)
    assert schedule.next_wakeup() == 30.0

    clock.advance(29.9)
    assert schedule.take_ripe() == []
    assert schedule.is_held(TP0)

    clock.advance(0.1)
    assert schedule.take_ripe() == [(TP0, 7)]
    assert not schedule.is_held(TP0)
    assert schedule.take_ripe() == [], "a ripe hold is handed out once"


def test_wall_clock_jump_after_holding_changes_nothing() -> None:
    clock = FakeClock(wall=1_000.0, monotonic=0.0)
    schedule = QuietSchedule(clock)
    schedule.hold(TP0, offset=3, due_wall=1_100.0)
    clock.wall_time += 10_000  # NTP step or operator mistake: must not resume early
    assert schedule.take_ripe() == []
    clock.monotonic_time += 100
    assert schedule.take_ripe() == [(TP0, 3)]


def test_an_overdue_item_is_held_for_zero_seconds() -> None:
    clock = FakeClock(wall=1_000.0)
    schedule = QuietSchedule(clock)
    held = schedule.hold(TP0, offset=1, due_wall=900.0)
    assert held.resume_at == clock.monotonic()
    assert schedule.next_wakeup() == 0.0
    assert schedule.take_ripe() == [(TP0, 1)]


def test_next_wakeup_is_the_earliest_hold_and_only_ripe_ones_are_taken() -> None:
    clock = FakeClock(wall=0.0, monotonic=0.0)
    schedule = QuietSchedule(clock)
    schedule.hold(TP0, offset=10, due_wall=50.0)
    schedule.hold(TP1, offset=20, due_wall=20.0)
    assert schedule.next_wakeup() == 20.0
    clock.advance(25)
    assert schedule.take_ripe() == [(TP1, 20)]
    assert schedule.next_wakeup() == 25.0
    assert set(schedule.held()) == {TP0}


def test_holding_again_replaces_the_previous_hold() -> None:
    clock = FakeClock(wall=0.0, monotonic=0.0)
    schedule = QuietSchedule(clock)
    schedule.hold(TP0, offset=10, due_wall=50.0)
    schedule.hold(TP0, offset=12, due_wall=5.0)
    clock.advance(5)
    assert schedule.take_ripe() == [(TP0, 12)]


def test_forget_drops_revoked_partitions_only() -> None:
    clock = FakeClock()
    schedule = QuietSchedule(clock)
    schedule.hold(TP0, offset=1, due_wall=clock.wall() + 10)
    schedule.hold(TP1, offset=2, due_wall=clock.wall() + 10)
    schedule.forget([TP0])
    assert set(schedule.held()) == {TP1}
