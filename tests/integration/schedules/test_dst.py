"""The scheduler across daylight-saving changes (Europe/Berlin, 2024)."""

from __future__ import annotations

from datetime import datetime, timedelta

from pgflow import Cron
from pgflow.db import drive_sync
from pgflow.ops.schedules import schedule
from pgflow.worker.scheduler import tick_sync

from .conftest import at, ticks

BERLIN = "Europe/Berlin"


def simulate(conn, cron: Cron, start: str, hours: int, step_minutes: int = 5) -> list[str]:
    """Tick every ``step_minutes`` for ``hours``; the ticks that got a run, in Berlin time."""
    drive_sync(conn, schedule("tick_job", cron, now=at(start)))
    t0 = at(start)
    for i in range(hours * 60 // step_minutes + 1):
        tick_sync(conn, t0 + timedelta(minutes=i * step_minutes, seconds=1))
    return [t.astimezone(cron.zone).strftime("%m-%d %H:%M%z") for t in ticks(conn)]


def test_spring_forward_daily_job_in_the_skipped_hour_runs_once_right_after(sconn):
    # 2024-03-31 02:00 CET jumps to 03:00 CEST: 02:30 does not exist that day
    got = simulate(sconn, Cron("30 2 * * *", timezone=BERLIN), "2024-03-29T12:00", hours=72)
    assert got == ["03-30 02:30+0100", "03-31 03:00+0200", "04-01 02:30+0200"]


def test_spring_forward_daily_job_outside_the_gap_keeps_its_wall_clock_time(sconn):
    got = simulate(sconn, Cron("0 9 * * *", timezone=BERLIN), "2024-03-29T12:00", hours=72, step_minutes=30)
    assert got == ["03-30 09:00+0100", "03-31 09:00+0200", "04-01 09:00+0200"]


def test_fall_back_daily_job_in_the_repeated_hour_runs_once(sconn):
    # 2024-10-27 03:00 CEST falls back to 02:00 CET: 02:30 happens twice that day
    got = simulate(sconn, Cron("30 2 * * *", timezone=BERLIN), "2024-10-25T12:00", hours=72)
    assert got == ["10-26 02:30+0200", "10-27 02:30+0200", "10-28 02:30+0100"]


def test_fall_back_half_hourly_job_follows_real_time(sconn):
    got = simulate(sconn, Cron("*/30 * * * *", timezone=BERLIN), "2024-10-27T00:10+02:00", hours=4)
    assert got == ["10-27 00:30+0200", "10-27 01:00+0200", "10-27 01:30+0200", "10-27 02:00+0200",
                   "10-27 02:30+0200", "10-27 02:00+0100", "10-27 02:30+0100", "10-27 03:00+0100"]
    instants = ticks(sconn)
    assert all(b - a == timedelta(minutes=30) for a, b in zip(instants, instants[1:]))


def test_next_run_at_is_stored_as_the_real_instant(sconn):
    drive_sync(sconn, schedule("tick_job", Cron("0 9 * * *", timezone=BERLIN), now=at("2024-07-01T00:00")))
    stored: datetime = sconn.execute("SELECT next_run_at FROM pgflow.schedules").fetchone()[0]
    assert stored == at("2024-07-01T07:00")
