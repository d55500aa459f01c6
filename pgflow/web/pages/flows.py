"""Flows and jobs: lists with recent statistics, and a page each with the DAG and run history."""

from __future__ import annotations

from functools import partial
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from pgflow.models import RunStatus, StepStatus
from pgflow.web import dag
from pgflow.web.flow_control import flow_controls
from pgflow.web.pages import Dashboard, dashboard_of, flow_types, now_utc, window_param
from pgflow.web.pages.overview import DURATION_SAMPLE
from pgflow.web.pages.runs import annotate_runs
from pgflow.web.pages.schedules import schedules_of_flow

GRID_RUNS = 40
RECENT_RUNS = 20


def routes() -> list[Route]:
    return [
        Route("/flows", partial(flow_list, flow_type="flow"), name="flows"),
        Route("/jobs", partial(flow_list, flow_type="job"), name="jobs"),
        Route("/flows/{slug}", partial(flow_page, flow_type="flow"), name="flow"),
        Route("/jobs/{slug}", partial(flow_page, flow_type="job"), name="job"),
    ]


async def flow_list(request: Request, flow_type: str) -> Response:
    dash = dashboard_of(request)
    window_name, window = window_param(request)
    rows = await dash.store.all("dashboard_flows", flow_type=flow_type, since=now_utc() - window)
    for r in rows:
        finished = (r["completed"] or 0) + (r["failed"] or 0)
        r["success_rate"] = (r["completed"] / finished * 100) if finished else None
    template = "flows.html" if flow_type == "flow" else "jobs.html"
    title = "Flows" if flow_type == "flow" else "Jobs"
    return dash.page(request, template, {"title": title, "rows": rows, "window_name": window_name,
                                         "windows": ["1h", "24h", "7d", "30d"]})


def history_grid(order: list[str], runs: list[dict[str, Any]], states: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows of steps, columns of runs (oldest left), each cell the step's status in that run."""
    by_run: dict[Any, dict[str, dict[str, Any]]] = {}
    for s in states:
        by_run.setdefault(s["run_id"], {})[s["step_slug"]] = s
    columns = list(reversed(runs))
    rows = []
    for slug in order:
        cells = []
        for run in columns:
            st = by_run.get(run["run_id"], {}).get(slug)
            cells.append({"run": run, "state": st, "status": st["status"] if st else None})
        failures = sum(1 for c in cells if c["status"] == RunStatus.FAILED)
        rows.append({"slug": slug, "cells": cells, "failures": failures})
    return {"columns": columns, "rows": rows}


def step_timings(order: list[str], states: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Average and slowest duration of each step over the runs in the grid."""
    out: dict[str, dict[str, Any]] = {slug: {"n": 0, "sum": 0.0, "max": None} for slug in order}
    for s in states:
        end = s.get("completed_at")
        if s["step_slug"] in out and s.get("started_at") and end:
            seconds = (end - s["started_at"]).total_seconds()
            t = out[s["step_slug"]]
            t["n"] += 1
            t["sum"] += seconds
            t["max"] = seconds if t["max"] is None else max(t["max"], seconds)
    for t in out.values():
        t["avg"] = t["sum"] / t["n"] if t["n"] else None
    return out


async def load_flow(dash: Dashboard, slug: str) -> dict[str, Any]:
    flow = await dash.store.one("dashboard_flow", flow_slug=slug)
    if flow is None:
        raise HTTPException(404, f"There is no flow or job named {slug!r} in this database.")
    return flow


async def flow_page(request: Request, flow_type: str) -> Response:
    dash = dashboard_of(request)
    store = dash.store
    slug = request.path_params["slug"]
    flow = await load_flow(dash, slug)
    if flow["flow_type"] != flow_type:
        where = "/jobs/" if flow["flow_type"] == "job" else "/flows/"
        root = request.scope.get("root_path", "").rstrip("/")
        return RedirectResponse(root + where + slug + ("?" + request.url.query if request.url.query else ""))
    window_name, window = window_param(request)
    steps = await store.all("dashboard_flow_steps", flow_slug=slug)
    recent = await store.all("dashboard_flow_recent_runs", flow_slug=slug, limit=GRID_RUNS)
    states = await store.all("dashboard_step_states_of_runs", run_ids=[r["run_id"] for r in recent])
    graph = dag.layout(steps)
    order = [n.slug for n in sorted(graph.nodes, key=lambda n: (n.layer, n.y))]
    step_info = {s["step_slug"]: s for s in steps}
    await annotate_runs(dash, recent, await flow_types(dash))
    failed_runs = [r for r in recent if r["status"] == RunStatus.FAILED]
    errors = {s["run_id"]: s for s in states if s["status"] == StepStatus.FAILED}
    context = {
        "title": slug,
        "nav": "flows" if flow_type == "flow" else "jobs",
        "flow": flow,
        "steps": [step_info[s] for s in order],
        "graph": graph,
        "grid": history_grid(order, recent, states),
        "timings": step_timings(order, states),
        "recent": recent[:RECENT_RUNS],
        "recent_errors": [(r, errors.get(r["run_id"])) for r in failed_runs][:10],
        "stats": await store.one("dashboard_flow_window_stats", flow_slug=slug, since=now_utc() - window) or {},
        "durations": await store.one("dashboard_run_durations", flow_slug=slug, since=now_utc() - window,
                                     sample=DURATION_SAMPLE) or {},
        "duration_sample": DURATION_SAMPLE,
        "window_name": window_name,
        "windows": ["1h", "24h", "7d", "30d"],
        "schedules": await schedules_of_flow(dash, slug),
        **await flow_controls(request, slug),  # pause, limits, slots (pgflow.web.flow_control)
    }
    return dash.page(request, "flow.html" if flow_type == "flow" else "job.html", context, live=f"flow:{slug}")
