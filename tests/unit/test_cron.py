"""Cron schedules and drill slots (bot.restore.cron, bot.restore.drills): pure."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from bot.restore.cron import CronError, parse_cron
from bot.restore.drills import RestorePoint, parse_restore_point, pick_target, plan_slots, restore_ms, targets_left
from bot.restore.facts import TargetCandidate
from bot.restore.timeparse import Window

T0 = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)  # a Monday


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC) if "+" not in text else datetime.fromisoformat(text)


def times(expr: str, start: datetime, end: datetime, zone: str = "UTC") -> list[str]:
    return [t.strftime("%Y-%m-%d %a %H:%M") for t in parse_cron(expr, zone).times(start, end)]


def test_every_minute_and_steps() -> None:
    assert times("* * * * *", T0, T0 + timedelta(minutes=3)) == [
        "2026-12-07 Mon 00:01",
        "2026-12-07 Mon 00:02",
        "2026-12-07 Mon 00:03",
    ]
    assert times("*/20 1-3/2 * * *", T0, T0 + timedelta(hours=4)) == [
        "2026-12-07 Mon 01:00",
        "2026-12-07 Mon 01:20",
        "2026-12-07 Mon 01:40",
        "2026-12-07 Mon 03:00",
        "2026-12-07 Mon 03:20",
        "2026-12-07 Mon 03:40",
    ]


def test_names_lists_and_sunday_as_0_or_7() -> None:
    week = T0 + timedelta(days=14)
    assert times("0 3 * * MON", T0, week) == ["2026-12-07 Mon 03:00", "2026-12-14 Mon 03:00"]
    assert times("0 3 * * sat,0", T0, T0 + timedelta(days=7)) == ["2026-12-12 Sat 03:00", "2026-12-13 Sun 03:00"]
    assert times("0 3 * * 7", T0, T0 + timedelta(days=7)) == ["2026-12-13 Sun 03:00"]
    assert times("0 0 1 JAN,mar *", T0, T0 + timedelta(days=120)) == ["2027-01-01 Fri 00:00", "2027-03-01 Mon 00:00"]


def test_day_of_month_or_weekday_when_both_are_restricted() -> None:
    # Vixie cron: the 10th, or any Friday.
    assert times("0 0 10 * FRI", T0, T0 + timedelta(days=7)) == ["2026-12-10 Thu 00:00", "2026-12-11 Fri 00:00"]


def test_time_zone() -> None:
    # 03:00 in Shanghai (UTC+8) is 19:00 UTC the day before.
    assert times("0 3 * * TUE", T0, T0 + timedelta(days=7), "Asia/Shanghai") == ["2026-12-07 Mon 19:00"]


def test_next_after_and_a_day_that_never_comes() -> None:
    assert parse_cron("0 0 29 FEB *").next_after(T0) == at("2028-02-29T00:00:00")
    with pytest.raises(CronError, match="never runs"):
        parse_cron("0 0 30 FEB *")


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("* * * *", "has 4 field"),
        ("60 * * * *", "minute: '60' is not 0-59"),
        ("* 24 * * *", "hour: '24' is not 0-23"),
        ("* * 0 * *", "day of the month: '0' is not 1-31"),
        ("* * * FOO *", "month: 'FOO' is not 1-12 or JAN..DEC"),
        ("* * * * MONDAY", "day of the week: 'MONDAY' is not 0-7 or SUN..SAT"),
        ("*/0 * * * *", "step that is not a positive number"),
        ("5-1 * * * *", "ends before it starts"),
        ("١ * * * *", "is not 0-59"),
    ],
)
def test_bad_schedules_are_named(expr: str, message: str) -> None:
    with pytest.raises(CronError, match=message):
        parse_cron(expr)


def test_bad_zone() -> None:
    with pytest.raises(CronError, match="not a time zone"):
        parse_cron("* * * * *", "Mars/Olympus")


def test_slots_run_the_latest_within_the_window_and_report_older_missed() -> None:
    cron = parse_cron("*/10 * * * *")
    now = T0 + timedelta(minutes=35)
    hour = timedelta(hours=1)
    # Never ran: only the latest slot is considered.
    plan = plan_slots(cron, now, last=None, window=hour)
    assert (plan.run, plan.missed, plan.missed_count) == (T0 + timedelta(minutes=30), None, 0)
    # Ran at :00; down until :35: :30 runs, :10 and :20 are missed (the newest named).
    plan = plan_slots(cron, now, last=T0, window=hour)
    assert (plan.run, plan.missed, plan.missed_count) == (T0 + timedelta(minutes=30), T0 + timedelta(minutes=20), 2)
    # Everything claimed: nothing to do.
    assert plan_slots(cron, now, last=T0 + timedelta(minutes=30), window=hour).run is None
    # The latest slot is past its window: missed, not run.
    plan = plan_slots(cron, now, last=T0 + timedelta(minutes=10), window=timedelta(minutes=4))
    assert (plan.run, plan.missed, plan.missed_count) == (None, T0 + timedelta(minutes=30), 2)


def test_restore_points() -> None:
    assert parse_restore_point("latest") == RestorePoint("latest")
    assert parse_restore_point("RANDOM") == RestorePoint("random")
    assert parse_restore_point("-2h") == RestorePoint("offset", timedelta(hours=2))
    for bad in ("2h", "-0m", "-2w", "soon", ""):
        with pytest.raises(ValueError, match="not a restore point"):
            parse_restore_point(bad)
    windows = [Window(1_000, 2_000), Window(5_000, 9_000)]
    rng = random.Random(7)
    assert restore_ms(RestorePoint("latest"), windows, 10_000, rng=rng) == 9_000
    picks = {restore_ms(RestorePoint("random"), windows, 10_000, rng=rng) for _ in range(200)}
    assert all(p is not None and any(w.contains(p) for w in windows) for p in picks) and len(picks) > 100
    assert restore_ms(RestorePoint("offset", timedelta(seconds=3)), windows, 10_000, rng=rng) == 7_000
    assert restore_ms(RestorePoint("offset", timedelta(seconds=7)), windows, 10_000, rng=rng) is None
    assert restore_ms(RestorePoint("latest"), [], 10_000, rng=rng) is None


def test_the_pool_gives_its_first_usable_target() -> None:
    candidates = [
        TargetCandidate("id-1", "drill-1", available=False, reason="restored before"),
        TargetCandidate("id-2", "drill-2", available=True),
        TargetCandidate("id-3", "drill-3", available=True),
    ]
    assert pick_target(("drill-1", "id-3", "drill-2"), candidates) == candidates[2]
    assert targets_left(("drill-1", "drill-2", "gone"), candidates) == 1
    assert pick_target(("drill-1",), candidates) is None
