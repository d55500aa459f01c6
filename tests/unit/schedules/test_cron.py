"""pgflow.Cron: parsing, validation, descriptions and daylight-saving behaviour (no database)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import pgflow
from pgflow import Cron, ScheduleError
from tests.helpers import iso

UTC = timezone.utc
BERLIN = "Europe/Berlin"


def at(text: str) -> datetime:
    return iso(text).astimezone(UTC)


def local(cron: Cron, ticks: list[datetime]) -> list[str]:
    return [t.astimezone(cron.zone).strftime("%m-%d %H:%M%z") for t in ticks]


def test_is_exported_and_keeps_what_was_given():
    cron = pgflow.Cron("0  9 * * *", input={"type": "daily"}, timezone=BERLIN)
    assert (cron.expression, cron.input, cron.timezone) == ("0 9 * * *", {"type": "daily"}, BERLIN)
    assert Cron("@daily").input == {}
    assert Cron("@daily").timezone == "UTC"


@pytest.mark.parametrize(
    ("macro", "fields"),
    [("@hourly", "0 * * * *"), ("@daily", "0 0 * * *"), ("@midnight", "0 0 * * *"), ("@weekly", "0 0 * * 0"),
     ("@monthly", "0 0 1 * *"), ("@yearly", "0 0 1 1 *"), ("@annually", "0 0 1 1 *"), ("@HOURLY", "0 * * * *")],
)
def test_macros_expand_to_five_fields(macro, fields):
    assert Cron(macro).fields == fields
    assert Cron(macro).next_after(at("2024-05-01T10:30:00+00:00")) == Cron(fields).next_after(at("2024-05-01T10:30:00+00:00"))


def test_coerce():
    cron = Cron("@hourly")
    assert Cron.coerce(None) is None
    assert Cron.coerce(cron) is cron
    assert Cron.coerce("@hourly") == cron
    with pytest.raises(ScheduleError, match="cron= takes"):
        Cron.coerce(3600)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("expression", "shown"),
    [("61 * * * *", "the minute field '61'"), ("* 24 * * *", "the hour field '24'"), ("* * 0 * *", "day-of-month field '0'"),
     ("* * * 13 *", "the month field '13'"), ("* * * * 8", "day-of-week field '8'"), ("0 0 30 2 *", "day-of-month field '30'"),
     ("* * *", "has 3 field"), ("0 0 * * * *", "has 6 field"), ("@reboot", "unknown cron macro '@reboot'"), ("", "has 0 field")],
)
def test_invalid_expressions_say_what_is_wrong(expression, shown):
    with pytest.raises(ScheduleError, match=shown) as caught:
        Cron(expression)
    assert "minute hour day-of-month month day-of-week" in str(caught.value)


@pytest.mark.parametrize("zone", ["Europe/Berln", "europe/berlin", "", "../etc/passwd", "CEST+2"])
def test_invalid_time_zones_are_rejected(zone):
    with pytest.raises(ScheduleError, match="time zone"):
        Cron("@daily", timezone=zone)


def test_input_must_be_json():
    with pytest.raises(ScheduleError, match="must be JSON"):
        Cron("@daily", input={"when": datetime.now(UTC)})


def test_describe():
    assert Cron("0 9 * * *", timezone=BERLIN).describe() == "every day at 09:00 Europe/Berlin"
    assert Cron("* * * * *", timezone=BERLIN).describe() == "every minute"
    assert Cron("30 2 * * 1-5").describe() == "at 02:30 on Monday through Friday UTC"
    assert Cron("@hourly").describe() == "at the start of every hour"


def test_next_after_is_strictly_after_and_in_utc():
    cron = Cron("* * * * *")
    assert cron.next_after(at("2024-05-01T10:00:00+00:00")) == at("2024-05-01T10:01:00+00:00")
    assert cron.next_after(at("2024-05-01T10:00:00.5+00:00")) == at("2024-05-01T10:01:00+00:00")
    assert cron.next_after(at("2024-05-01T10:00:00+00:00")).tzinfo is UTC
    with pytest.raises(ScheduleError, match="aware"):
        cron.next_after(datetime(2024, 5, 1))


def test_time_zone_shifts_ticks():
    assert Cron("0 9 * * *", timezone=BERLIN).next_after(at("2024-07-01T00:00+00:00")) == at("2024-07-01T07:00+00:00")
    assert Cron("0 9 * * *", timezone=BERLIN).next_after(at("2024-01-01T00:00+00:00")) == at("2024-01-01T08:00+00:00")


# Europe/Berlin: 2024-03-31 02:00 CET -> 03:00 CEST (spring forward), 2024-10-27 03:00 CEST -> 02:00 CET (fall back)

def test_spring_forward_runs_a_skipped_wall_clock_time_once_right_after_the_jump():
    cron = Cron("30 2 * * *", timezone=BERLIN)
    ticks = cron.ticks_between(at("2024-03-29T12:00+00:00"), at("2024-04-01T12:00+00:00"))
    assert local(cron, ticks) == ["03-30 02:30+0100", "03-31 03:00+0200", "04-01 02:30+0200"]


def test_spring_forward_interval_expressions_follow_real_time():
    cron = Cron("*/30 * * * *", timezone=BERLIN)
    ticks = cron.ticks_between(at("2024-03-31T00:00+00:00"), at("2024-03-31T02:00+00:00"))
    assert local(cron, ticks) == ["03-31 01:30+0100", "03-31 03:00+0200", "03-31 03:30+0200", "03-31 04:00+0200"]


def test_fall_back_runs_a_repeated_wall_clock_time_once():
    cron = Cron("30 2 * * *", timezone=BERLIN)
    ticks = cron.ticks_between(at("2024-10-26T12:00+00:00"), at("2024-10-28T12:00+00:00"))
    assert local(cron, ticks) == ["10-27 02:30+0200", "10-28 02:30+0100"]
    # asked from inside the second pass of the repeated hour: the next is tomorrow, never the past
    assert cron.next_after(at("2024-10-27T02:15+01:00")) == at("2024-10-28T02:30+01:00")


def test_fall_back_interval_expressions_run_on_both_passes():
    cron = Cron("0 * * * *", timezone=BERLIN)
    ticks = cron.ticks_between(at("2024-10-26T23:30+00:00"), at("2024-10-27T02:30+00:00"))
    assert local(cron, ticks) == ["10-27 02:00+0200", "10-27 02:00+0100", "10-27 03:00+0100"]
    hours = cron.ticks_between(at("2024-10-26T22:00+00:00"), at("2024-10-27T22:00+00:00"))
    assert len(hours) == 24  # 25 wall-clock hours that day, 24 real hours in the window
    assert all(b - a == timedelta(hours=1) for a, b in zip(hours, hours[1:]))


def test_ticks_between_is_bounded():
    cron = Cron("* * * * *")
    assert len(cron.ticks_between(at("2024-01-01T00:00+00:00"), at("2024-12-31T00:00+00:00"), limit=50)) == 50


@pytest.mark.parametrize("zone", ["UTC", BERLIN, "America/New_York", "Australia/Lord_Howe"])
@pytest.mark.parametrize("expression", ["30 2 * * *", "0 * * * *", "*/15 * * * *", "5 2,3 * * *", "0 0 1 * *"])
def test_last_at_or_before_is_the_tick_just_before(expression, zone):
    cron = Cron(expression, timezone=zone)
    # around both 2024 transitions in Europe and in the US, every 7 minutes (with and without seconds)
    for base in ("2024-03-31T00:00+00:00", "2024-10-27T00:00+00:00", "2024-03-10T06:00+00:00", "2024-11-03T05:00+00:00"):
        for step in range(-40, 40):
            dt = at(base) + timedelta(minutes=7 * step, seconds=17 * (step % 2))
            last = cron.last_at_or_before(dt)
            assert last <= dt < cron.next_after(last)
            assert cron.next_after(last - timedelta(seconds=1)) == last  # it is a tick


def test_last_at_or_before_inside_the_repeated_autumn_hour():
    cron = Cron("30 2 * * *", timezone=BERLIN)
    # 02:15 CET on 10-27 is after 02:30 CEST the same night: that was the last tick
    assert cron.last_at_or_before(at("2024-10-27T02:15+01:00")) == at("2024-10-27T02:30+02:00")
    assert cron.last_at_or_before(at("2024-10-27T02:30+02:00")) == at("2024-10-27T02:30+02:00")


def test_catch_up_policy_must_be_known():
    assert Cron("@daily", catch_up="all").catch_up == "all"
    with pytest.raises(ScheduleError, match="catch_up must be one of"):
        Cron("@daily", catch_up="some")
