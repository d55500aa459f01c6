"""Schedules: cron expression, a sentence for people, the next run, and the run history.

The ``pgflow.schedules`` table belongs to the scheduler; without it (an older schema) these
pages say so instead of failing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pgflow.errors import PgFlowError
from pgflow.web.pages import Dashboard, dashboard_of, flow_types, now_utc, schedules_installed
from pgflow.web.pages.runs import annotate_runs

HISTORY = 30


def routes() -> list[Route]:
    return [Route("/schedules", schedule_list, name="schedules"),
            Route("/schedules/{slug}", schedule_page, name="schedule")]


def describe(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Add ``description`` and ``next_at`` (computed from the expression) to a schedule row."""
    from pgflow.dsl.cron import Cron

    out = dict(row)
    try:
        cron = Cron(row["expression"], timezone=row.get("timezone") or "UTC")
    except (PgFlowError, KeyError, TypeError) as exc:
        out["description"], out["next_at"], out["problem"] = "", None, str(exc)
        return out
    out["description"] = cron.describe()
    out["next_at"] = (row.get("next_run_at") or cron.next_after(now)) if row.get("enabled", True) else None
    out["problem"] = None
    return out


async def schedules_of_flow(dash: Dashboard, slug: str) -> list[dict[str, Any]]:
    if not await schedules_installed(dash):
        return []
    now = now_utc()
    return [describe(r, now) for r in await dash.store.all("dashboard_schedules_of_flow", flow_slug=slug)]


async def schedule_list(request: Request) -> Response:
    dash = dashboard_of(request)
    installed = await schedules_installed(dash)
    now = now_utc()
    rows = [describe(r, now) for r in await dash.store.all("dashboard_schedules")] if installed else []
    return dash.page(request, "schedules.html", {"title": "Schedules", "rows": rows, "installed": installed})


async def schedule_page(request: Request) -> Response:
    dash = dashboard_of(request)
    slug = request.path_params["slug"]
    if not await schedules_installed(dash):
        raise HTTPException(404, "Schedules are not installed in this database (run `pgflow db install`).")
    row = await dash.store.one("dashboard_schedule", schedule_slug=slug)
    if row is None:
        raise HTTPException(404, f"There is no schedule named {slug!r}.")
    schedule = describe(row, now_utc())
    history = await dash.store.all("dashboard_schedule_history", schedule_slug=slug, limit=HISTORY)
    await annotate_runs(dash, history, await flow_types(dash))
    context = {"title": f"Schedule {slug}", "nav": "schedules", "schedule": schedule, "history": history}
    return dash.page(request, "schedule.html", context)
