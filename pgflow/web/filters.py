"""The runs list's filters and keyset cursors, read from and written back to the URL.

Every filter lives in the query string, so a filtered page is a link that can be shared:
``?flow=orders&status=failed&type=job&range=24h`` or ``&from=2026-01-01T00:00&to=...`` (local
times in the dashboard's time zone). Pages are cursors, never offsets: ``older=<started_at>~<run_id>``
fetches the runs started before that run, ``newer=...`` those after it, each one index range
scan however deep the history is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from pgflow.models import RunStatus
from pgflow.ops.runs import run_status_of

RANGES = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
STATUSES = tuple(s.value for s in RunStatus)
TYPES = ("flow", "job", "scheduled")
PAGE_SIZES = (25, 50, 100, 200)


class BadFilter(ValueError):
    """A query-string value the runs page cannot use (shown to the user as a 400 page)."""


def encode_cursor(started_at: datetime, run_id: Any) -> str:
    return f"{started_at.astimezone(dt_timezone.utc).isoformat()}~{run_id}"


def decode_cursor(text: str) -> tuple[datetime, UUID]:
    try:
        at, run_id = text.rsplit("~", 1)
        when = datetime.fromisoformat(at.replace(" ", "+"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt_timezone.utc)
        return when, UUID(run_id)
    except ValueError as exc:
        raise BadFilter(f"the page cursor {text!r} is not valid: open the runs list from its first page") from exc


def _local(text: str, tz: ZoneInfo, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadFilter(f"{name}={text!r} is not a date and time: use YYYY-MM-DDTHH:MM") from exc
    return value if value.tzinfo else value.replace(tzinfo=tz)


@dataclass(frozen=True)
class RunFilter:
    flow: str | None = None
    status: str | None = None
    type: str | None = None
    range: str | None = None
    start: str | None = None  # the raw "from" value, local time
    end: str | None = None    # the raw "to" value, local time
    older: str | None = None
    newer: str | None = None
    limit: int = 50

    @classmethod
    def from_query(cls, q: Any) -> RunFilter:
        def get(name: str) -> str | None:
            value = (q.get(name) or "").strip()
            return value or None

        status = get("status")
        if status is not None:
            status = run_status_of(status)
        if status is not None and status not in STATUSES:
            raise BadFilter(f"status={status!r} is not one of running (or started), completed, failed")
        kind = get("type")
        if kind is not None and kind not in TYPES:
            raise BadFilter(f"type={kind!r} is not one of flow, job, scheduled")
        rng = get("range")
        if rng is not None and rng != "all" and rng not in RANGES:
            raise BadFilter(f"range={rng!r} is not one of {', '.join(RANGES)}, all")
        try:
            limit = int(get("limit") or 50)
        except ValueError:
            raise BadFilter("limit must be a number") from None
        limit = min(max(limit, 1), max(PAGE_SIZES))
        found = cls(flow=get("flow"), status=status, type=kind, range=rng, start=get("from"), end=get("to"),
                    older=get("older"), newer=get("newer"), limit=limit)
        for cursor in (found.older, found.newer):
            if cursor:
                decode_cursor(cursor)
        return found

    def window(self, tz: ZoneInfo, now: datetime) -> tuple[datetime | None, datetime | None]:
        since = until = None
        if self.range and self.range in RANGES:
            since = now - RANGES[self.range]
        if self.start:
            since = _local(self.start, tz, "from")
        if self.end:
            until = _local(self.end, tz, "to")
        if since and until and since >= until:
            raise BadFilter("the time range is empty: 'from' must be before 'to'")
        return since, until

    def params(self) -> dict[str, Any]:
        """The filters as URL parameters (without the page cursor)."""
        return {
            "flow": self.flow, "status": self.status, "type": self.type, "range": self.range,
            "from": self.start, "to": self.end, "limit": self.limit if self.limit != 50 else None,
        }

    @property
    def active(self) -> bool:
        return any((self.flow, self.status, self.type, self.range, self.start, self.end))
