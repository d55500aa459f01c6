"""Cron schedules for flows and jobs: ``pgflow.Cron``.

A :class:`Cron` is a validated cron expression, a time zone and the input each scheduled run
gets. It touches no database; the scheduler (``pgflow.worker.scheduler``) and the schedule operations
(``pgflow.ops.schedules``) use :meth:`Cron.next_after` to find tick times.

Expressions are the standard five fields ``minute hour day-of-month month day-of-week`` or one
of the macros ``@hourly @daily @midnight @weekly @monthly @yearly @annually``. Parsing and
evaluation are done by the ``cronsim`` library, which follows Debian cron on daylight-saving
changes: a job at a fixed wall-clock time that falls into the hour skipped in spring runs once,
right after the jump (02:30 becomes 03:00); in the hour repeated in autumn it runs once, at the
first occurrence. Expressions with a wildcard minute or hour (``*/15 * * * *``) follow real
elapsed time instead, so they run on both passes of a repeated hour.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone as dt_timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from pgflow.errors import ScheduleError

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
CATCH_UP = ("one", "all", "none")
FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
_HELP = (
    'expected five fields "minute hour day-of-month month day-of-week" (e.g. "0 9 * * *" '
    "for 09:00 every day, \"*/5 * * * *\" for every five minutes) or one of "
    + ", ".join(MACROS)
)
# cronsim reports e.g. "Bad minute"; its field list starts with seconds, ours does not
_CRONSIM_FIELD = re.compile(r"Bad (second|minute|hour|day-of-month|month|day-of-week)")
_MAX_SKIPS = 16  # bound on ticks stepped over while correcting a daylight-saving fold


class Cron:
    """A cron schedule: ``Cron("0 9 * * *", input={"type": "daily"}, timezone="Europe/Berlin")``.

    ``input`` is the JSON input of every scheduled run (``{}`` when not given). ``catch_up``
    says what happens to ticks missed while no scheduler ran: ``"one"`` (default) starts one
    run for the whole missed window, ``"all"`` one run per missed tick, ``"none"`` skips them.
    An invalid expression, time zone, input or policy raises :class:`pgflow.ScheduleError`
    here, when the flow is defined, not later in the scheduler.
    """

    __slots__ = ("expression", "input", "timezone", "catch_up", "fields", "_zone")

    expression: str
    input: Any
    timezone: str
    catch_up: str
    fields: str
    _zone: ZoneInfo | None

    def __init__(self, expression: str, *, input: Any = None, timezone: str = "UTC", catch_up: str = "one") -> None:
        if not isinstance(expression, str):
            raise ScheduleError(f"a cron expression must be a string, not {type(expression).__name__}; {_HELP}")
        self.expression = " ".join(expression.split())
        self.fields = _expand(self.expression)
        self.timezone, self._zone = _zone(timezone)
        self.input = _json_input({} if input is None else input)
        if catch_up not in CATCH_UP:
            raise ScheduleError(f"catch_up must be one of {', '.join(map(repr, CATCH_UP))}, not {catch_up!r}")
        self.catch_up = catch_up
        _validate(self.expression, self.fields)

    def replace(self, *, input: Any = None, timezone: str | None = None, catch_up: str | None = None) -> Cron:
        """A copy with the given parts changed (``None`` keeps a part)."""
        return Cron(
            self.expression,
            input=self.input if input is None else input,
            timezone=self.timezone if timezone is None else timezone,
            catch_up=self.catch_up if catch_up is None else catch_up,
        )

    @classmethod
    def coerce(cls, value: str | Cron | None) -> Cron | None:
        """``None`` stays ``None``, a string becomes a UTC :class:`Cron`, a :class:`Cron` is kept."""
        if value is None or isinstance(value, Cron):
            return value
        if isinstance(value, str):
            return cls(value)
        raise ScheduleError(
            f"cron= takes a cron expression string or pgflow.Cron(...), not {type(value).__name__} ({value!r})"
        )

    @property
    def zone(self) -> dt_timezone | ZoneInfo:
        return self._zone or dt_timezone.utc

    def next_after(self, dt: datetime) -> datetime:
        """The first tick strictly after ``dt`` (an aware datetime), as an aware datetime in UTC.

        UTC because Python compares two datetimes of the same zone by wall clock, ignoring
        ``fold``, which gets the repeated autumn hour wrong; ``.astimezone(cron.zone)`` for display.
        """
        if dt.tzinfo is None or dt.utcoffset() is None:
            raise ScheduleError(f"next_after needs an aware datetime (with a time zone), got {dt!r}")
        after = dt.astimezone(dt_timezone.utc)
        ticks = CronSim(self.fields, dt.astimezone(self.zone))
        # cronsim walks wall-clock time for fixed-time expressions; after a daylight-saving
        # fold that can yield a time before ``dt``: step until we are past it
        for _ in range(_MAX_SKIPS):
            try:
                tick = next(ticks).astimezone(dt_timezone.utc)
            except StopIteration:
                raise ScheduleError(f"cron expression {self.expression!r} has no tick in the next 50 years") from None
            if tick > after:
                return tick
        raise ScheduleError(f"cron expression {self.expression!r}: no tick found after {dt.isoformat()}")

    def last_at_or_before(self, dt: datetime) -> datetime:
        """The latest tick at or before ``dt``, as an aware datetime in UTC."""
        if dt.tzinfo is None or dt.utcoffset() is None:
            raise ScheduleError(f"last_at_or_before needs an aware datetime (with a time zone), got {dt!r}")
        until = dt.astimezone(dt_timezone.utc)
        ticks = CronSim(self.fields, (until + timedelta(seconds=1)).astimezone(self.zone), reverse=True)
        try:
            tick = next(ticks).astimezone(dt_timezone.utc)
            while tick > until:
                tick = next(ticks).astimezone(dt_timezone.utc)
        except StopIteration:
            raise ScheduleError(f"cron expression {self.expression!r} had no tick in the 50 years before {dt}") from None
        # walking backwards in wall-clock time can jump over a tick in a repeated autumn hour;
        # walking forwards from there is exact
        for _ in range(_MAX_SKIPS):
            following = self.next_after(tick)
            if following > until:
                return tick
            tick = following
        raise ScheduleError(f"cron expression {self.expression!r}: no last tick found before {dt.isoformat()}")

    def ticks_between(self, after: datetime, until: datetime, limit: int = 1000) -> list[datetime]:
        """Ticks ``t`` with ``after < t <= until``, at most ``limit`` of them (the earliest)."""
        found: list[datetime] = []
        t = after
        while len(found) < limit:
            t = self.next_after(t)
            if t > until:
                break
            found.append(t)
        return found

    def describe(self) -> str:
        """A sentence for people: ``"every day at 09:00 Europe/Berlin"``."""
        text = _explain(self.fields)
        _minute, hour, dom, month, dow = self.fields.split()
        if hour.startswith("*") and (dom, month, dow) == ("*", "*", "*"):
            return text  # "every minute", "at the start of every hour": the zone hardly matters
        return f"{text} {self.timezone}"

    def to_dict(self) -> dict[str, Any]:
        return {"expression": self.expression, "input": self.input, "timezone": self.timezone, "catch_up": self.catch_up}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Cron):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self.expression, self.timezone, self.catch_up, json.dumps(self.input, sort_keys=True)))

    def __repr__(self) -> str:
        extra = "" if self.input == {} else f", input={self.input!r}"
        zone = "" if self.timezone == "UTC" else f", timezone={self.timezone!r}"
        policy = "" if self.catch_up == "one" else f", catch_up={self.catch_up!r}"
        return f"Cron({self.expression!r}{extra}{zone}{policy})"


def _expand(expression: str) -> str:
    if expression.startswith("@"):
        fields = MACROS.get(expression.lower())
        if fields is None:
            raise ScheduleError(f"unknown cron macro {expression!r}; {_HELP}")
        return fields
    return expression


def _validate(expression: str, fields: str) -> None:
    parts = fields.split()
    if len(parts) != 5:
        raise ScheduleError(f"cron expression {expression!r} has {len(parts)} field(s); {_HELP}")
    try:
        CronSim(fields, datetime(2000, 1, 1, tzinfo=dt_timezone.utc))
    except CronSimError as exc:
        match = _CRONSIM_FIELD.search(str(exc))
        if match is None:
            raise ScheduleError(f"invalid cron expression {expression!r} ({exc}); {_HELP}") from None
        name = match[1]
        value = parts[FIELDS.index(name)] if name in FIELDS else "?"
        raise ScheduleError(
            f"invalid cron expression {expression!r}: the {name} field {value!r} is not valid "
            f"(or can never match); {_HELP}"
        ) from None


def _zone(name: Any) -> tuple[str, ZoneInfo | None]:
    if isinstance(name, ZoneInfo):
        name = name.key
    if not isinstance(name, str) or not name.strip():
        raise ScheduleError(f"a time zone must be an IANA name such as 'Europe/Berlin' or 'UTC', not {name!r}")
    name = name.strip()
    if name.upper() in ("UTC", "ETC/UTC", "Z"):
        return "UTC", None
    try:
        return name, ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError(
            f"unknown time zone {name!r}; use an IANA name such as 'Europe/Berlin', "
            f"'America/New_York' or 'UTC' (spelling and capitals matter)"
        ) from None


def _json_input(value: Any) -> Any:
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ScheduleError(f"the input of a schedule must be JSON (dicts, lists, strings, numbers): {exc}") from None


def _explain(fields: str) -> str:
    text = CronSim(fields, datetime(2000, 1, 1, tzinfo=dt_timezone.utc)).explain()
    # cronsim says "At 09:00 every day"; people say "every day at 09:00"
    daily = re.fullmatch(r"At (.+) every day", text)
    if daily:
        return f"every day at {daily[1]}"
    return text[:1].lower() + text[1:]


__all__ = ["CATCH_UP", "MACROS", "Cron"]
