"""The filter of ``list_runs`` and of the bulk operations (``cancel_runs``, ``retry_runs``,
``resume_runs``): checked here once, applied in SQL by ``pgflow._select_runs``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from pgflow.errors import InvalidInput
from pgflow.models import RunStatus
from pgflow.ops.common import json_text, slug_of
from pgflow.types import FlowRef, Json

RUN_STATUSES = tuple(s.value for s in RunStatus)
# "running" is the dashboard's word for a started run; every place that takes a run status takes both
RUN_STATUS_ALIASES = {"running": RunStatus.STARTED.value}


def run_status_of(status: str) -> str:
    """A run status as given by a person: ``"running"`` means ``"started"``; others are as they are."""
    return RUN_STATUS_ALIASES.get(status, status)


def check_status(status: str | None) -> str | None:
    """The run status to filter on (``running`` read as ``started``), or InvalidInput naming them."""
    if status is None:
        return None
    status = run_status_of(status)
    if status not in RUN_STATUSES:
        raise InvalidInput(f"unknown run status {status!r}; a run is one of: started (or running), "
                           f"{', '.join(s for s in RUN_STATUSES if s != RunStatus.STARTED)}")
    return status


def _moment(value: datetime | timedelta | None, what: str, now: datetime) -> datetime | None:
    """An aware datetime, or a timedelta meaning that long before ``now``."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        return now - value
    if not isinstance(value, datetime):
        raise InvalidInput(f"{what} must be a datetime with a time zone or a timedelta (that long ago), "
                           f"got {type(value).__name__} {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{what} {value.isoformat()} has no time zone, so the moment it names is ambiguous; "
                           f"pass an aware datetime, e.g. datetime(2030, 1, 1, tzinfo=timezone.utc), or a timedelta")
    return value


def filter_params(
    flow: FlowRef | None = None,
    status: str | None = None,
    since: datetime | timedelta | None = None,
    until: datetime | timedelta | None = None,
    input_match: Json | None = None,
) -> dict[str, Any]:
    """The parameters of ``pgflow._select_runs`` for a filter, checked: ``flow`` (a Flow, Job or
    slug), ``status`` (started or running, completed, failed), ``since`` / ``until`` (runs started
    at or after / before: an aware datetime, or a timedelta meaning that long ago), ``input_match``
    (JSON the run's input contains, as jsonb ``@>``: ``{"customer": 7}`` matches
    ``{"customer": 7, "items": [...]}``)."""
    now = datetime.now(timezone.utc)
    start, end = _moment(since, "since", now), _moment(until, "until", now)
    if start is not None and end is not None and start >= end:
        raise InvalidInput(f"the time range is empty: since ({start.isoformat()}) must be before until "
                           f"({end.isoformat()})")
    return {
        "flow_slug": None if flow is None else slug_of(flow),
        "status": check_status(status),
        "since": start,
        "until": end,
        "input": None if input_match is None else json_text(input_match, "input_match"),
    }
