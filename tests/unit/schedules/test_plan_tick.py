"""The missed-ticks policies as a pure function (no database)."""

from __future__ import annotations

from datetime import datetime, timezone

from pgflow import Cron
from pgflow.ops.schedules import TickPlan, plan_tick
from tests.helpers import iso


def at(text: str) -> datetime:
    return iso(text).replace(tzinfo=timezone.utc)


EVERY_5 = Cron("*/5 * * * *")


def test_an_on_time_tick_runs_under_every_policy():
    for policy in ("one", "all", "none"):
        assert plan_tick(EVERY_5, at("2024-05-01T10:05"), at("2024-05-01T10:05:00.4"), policy) == TickPlan(
            at("2024-05-01T10:05"), None, at("2024-05-01T10:10"))


def test_one_covers_the_window_with_the_latest_tick():
    assert plan_tick(EVERY_5, at("2024-05-01T10:05"), at("2024-05-01T10:47"), "one") == TickPlan(
        at("2024-05-01T10:45"), at("2024-05-01T10:05"), at("2024-05-01T10:50"))


def test_all_takes_the_oldest_tick_first():
    assert plan_tick(EVERY_5, at("2024-05-01T10:05"), at("2024-05-01T10:47"), "all") == TickPlan(
        at("2024-05-01T10:05"), None, at("2024-05-01T10:10"))


def test_none_runs_a_slightly_late_tick_and_skips_an_old_one():
    assert plan_tick(EVERY_5, at("2024-05-01T10:05"), at("2024-05-01T10:05:59"), "none").tick_at == at("2024-05-01T10:05")
    assert plan_tick(EVERY_5, at("2024-05-01T10:05"), at("2024-05-01T10:06:01"), "none") == TickPlan(
        None, None, at("2024-05-01T10:10"))


def test_one_late_tick_is_not_a_catch_up():
    assert plan_tick(EVERY_5, at("2024-05-01T10:05"), at("2024-05-01T10:09"), "one") == TickPlan(
        at("2024-05-01T10:05"), None, at("2024-05-01T10:10"))


def test_a_month_of_missed_minutes_is_one_run():
    plan = plan_tick(Cron("* * * * *"), at("2024-04-01T00:00"), at("2024-05-01T10:47:30"), "one")
    assert plan == TickPlan(at("2024-05-01T10:47"), at("2024-04-01T00:00"), at("2024-05-01T10:48"))
