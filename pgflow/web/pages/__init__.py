"""The dashboard's pages: one module per area, each exporting ``routes()``.

Helpers shared by the pages live here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any
from uuid import UUID

from starlette.exceptions import HTTPException
from starlette.requests import Request

from pgflow.web.dashboard import Dashboard, dashboard_of

WINDOWS = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
DEFAULT_WINDOW = "24h"

__all__ = ["Dashboard", "WINDOWS", "dashboard_of", "now_utc", "uuid_param", "window_param", "flow_types"]


def now_utc() -> datetime:
    return datetime.now(dt_timezone.utc)


def uuid_param(request: Request, name: str, what: str) -> UUID:
    try:
        return UUID(request.path_params[name])
    except ValueError:
        raise HTTPException(404, f"{request.path_params[name]!r} is not a {what} id") from None


def window_param(request: Request) -> tuple[str, timedelta]:
    """The ``?window=`` of overview-like pages (1h, 24h, 7d, 30d; default 24h)."""
    name = request.query_params.get("window") or DEFAULT_WINDOW
    if name not in WINDOWS:
        raise HTTPException(400, f"window={name!r} is not one of {', '.join(WINDOWS)}")
    return name, WINDOWS[name]


async def flow_types(dash: Dashboard) -> dict[str, dict[str, Any]]:
    """Every flow's type and step count (few rows: flows are definitions, not runs)."""
    rows = await dash.store.all("dashboard_flows_brief")
    return {r["flow_slug"]: r for r in rows}


async def schedules_installed(dash: Dashboard) -> bool:
    return await dash.store.has_table("pgflow.schedules")
