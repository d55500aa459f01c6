"""Runs: every run, newest first, filtered by flow, status, type and time range, keyset-paginated."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pgflow.models import RunStatus
from pgflow.web.filters import PAGE_SIZES, RANGES, RunFilter, decode_cursor, encode_cursor
from pgflow.web.run_actions import bulk_controls
from pgflow.web.pages import Dashboard, dashboard_of, flow_types, now_utc, schedules_installed


def routes() -> list[Route]:
    return [Route("/runs", runs_page, name="runs")]


async def scheduled_flows(dash: Dashboard) -> list[str]:
    if not await schedules_installed(dash):
        return []
    return [r["flow_slug"] for r in await dash.store.all("dashboard_scheduled_flow_slugs")]


async def slugs_for_type(dash: Dashboard, kind: str | None, flows: dict[str, dict[str, Any]]) -> list[str] | None:
    if kind is None:
        return None
    if kind == "scheduled":
        return await scheduled_flows(dash)
    return [slug for slug, f in flows.items() if f["flow_type"] == kind]


async def fetch_page(dash: Dashboard, f: RunFilter, flows: dict[str, dict[str, Any]], tz: Any) -> dict[str, Any]:
    """One page of runs plus the cursors of the pages around it."""
    since, until = f.window(tz, now_utc())
    params: dict[str, Any] = {
        "flow_slug": f.flow, "status": f.status, "since": since, "until": until,
        "flow_slugs": await slugs_for_type(dash, f.type, flows), "scheduled": f.type == "scheduled",
        "limit": f.limit + 1,
        "cursor_at": None, "cursor_id": None, "newer": bool(f.newer),
    }
    cursor = f.newer or f.older
    if cursor:
        params["cursor_at"], params["cursor_id"] = decode_cursor(cursor)
    rows = await dash.store.all("dashboard_runs_page", **params)
    if f.newer:
        has_newer = len(rows) > f.limit
        rows = list(reversed(rows[: f.limit]))
        has_older = True
    else:
        has_older = len(rows) > f.limit
        rows = rows[: f.limit]
        has_newer = bool(f.older)
    await annotate_runs(dash, rows, flows)
    return {
        "rows": rows,
        "older": encode_cursor(rows[-1]["started_at"], rows[-1]["run_id"]) if rows and has_older else None,
        "newer": encode_cursor(rows[0]["started_at"], rows[0]["run_id"]) if rows and has_newer else None,
        "paged": bool(f.older or f.newer),
    }


async def annotate_runs(dash: Dashboard, rows: list[dict[str, Any]], flows: dict[str, dict[str, Any]]) -> None:
    """Add each run's flow type, step count, failed step, schedule and, for a run whose work all
    waits for later, when it is due (a few index lookups)."""
    failed: dict[Any, dict[str, Any]] = {}
    waiting: dict[Any, Any] = {}
    started_ids = [r["run_id"] for r in rows if r["status"] == RunStatus.STARTED]
    if started_ids:
        found_waiting = await dash.store.all("dashboard_waiting_runs", run_ids=started_ids)
        waiting = {w["run_id"]: w["due_at"] for w in found_waiting}
    failed_ids = [r["run_id"] for r in rows if r["status"] == RunStatus.FAILED]
    if failed_ids:
        failed = {r["run_id"]: r for r in await dash.store.all("dashboard_failed_steps_of_runs", run_ids=failed_ids)}
    scheduled: dict[Any, dict[str, Any]] = {}
    if rows:
        found = await dash.store.all("dashboard_schedules_of_runs", run_ids=[r["run_id"] for r in rows])
        scheduled = {r["run_id"]: r for r in found}
    for r in rows:
        flow = flows.get(r["flow_slug"]) or {}
        r["flow_type"] = flow.get("flow_type", "flow")
        r["step_count"] = flow.get("step_count") or 0
        r["failed_step"] = failed.get(r["run_id"])
        r["schedule"] = scheduled.get(r["run_id"])
        r["due_at"] = waiting.get(r["run_id"])


async def runs_page(request: Request) -> Response:
    dash = dashboard_of(request)
    f = RunFilter.from_query(request.query_params)
    flows = await flow_types(dash)
    page = await fetch_page(dash, f, flows, dash.renderer.tz)
    context = {
        "title": "Runs",
        "filter": f,
        "flows": flows,
        "ranges": list(RANGES),
        "page_sizes": PAGE_SIZES,
        "page": page,
        "has_schedules": await schedules_installed(dash),
        **bulk_controls(request, f),  # bulk cancel / retry / resume (pgflow.web.run_actions)
    }
    # live refresh only on the first page: deeper pages would shift under the reader
    return dash.page(request, "runs.html", context, live=None if page["paged"] else "all")
