"""Run: step states, the DAG coloured by state, a Gantt timeline, tasks, input and output."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from pgflow.errors import InvalidInput, RunNotFound
from pgflow.models import RunStatus, StepStatus
from pgflow.ops.due import active_tasks, due_times, run_due_at
from pgflow.ops.runs import find_run_id, short_id
from pgflow.web import dag
from pgflow.web.pages import dashboard_of, now_utc, uuid_param
from pgflow.web.run_actions import run_controls

TASK_LIMITS = (50, 500)  # tasks shown by default / with ?tasks=more


def routes() -> list[Route]:
    return [Route("/runs/{run_id}", run_page, name="run")]


def step_rows(steps: list[dict[str, Any]], states: dict[str, dict[str, Any]],
              summary: dict[str, dict[str, Any]], order: list[str]) -> list[dict[str, Any]]:
    by_slug = {s["step_slug"]: s for s in steps}
    rows = []
    for slug in order:
        step = by_slug[slug]
        state = states.get(slug) or {}
        tasks = summary.get(slug) or {}
        rows.append({**step, **state, "step_slug": slug, "status": state.get("status") or StepStatus.CREATED.value,
                     "tasks": tasks,
                     "end": state.get("completed_at") or state.get("failed_at") or state.get("skipped_at")})
    return rows


async def run_page(request: Request) -> Response:
    dash = dashboard_of(request)
    store = dash.store
    if not _is_uuid(request.path_params["run_id"]):  # the first or last characters of an id
        return await _redirect_to_run(request)
    run_id = uuid_param(request, "run_id", "run")
    run = await store.one("dashboard_run", run_id=run_id)
    if run is None:
        raise HTTPException(404, f"Run {run_id} does not exist (it may have been pruned).")
    # delayed work (enqueued for later, a start delay, a retry's backoff) is not running: when is it due?
    active = await store.run(active_tasks([run_id])) if run["status"] == RunStatus.STARTED else []
    due = await store.run(due_times(run_id)) if active else {}
    step_due = {slug: run_due_at([t for t in active if t["step_slug"] == slug], due)
                for slug in {t["step_slug"] for t in active}}
    steps = await store.all("dashboard_flow_steps", flow_slug=run["flow_slug"])
    states = {s["step_slug"]: s for s in await store.all("dashboard_run_step_states", run_id=run_id)}
    summary = {s["step_slug"]: s for s in await store.all("dashboard_run_task_summary", run_id=run_id)}
    step_filter = request.query_params.get("step") or None
    task_limit = TASK_LIMITS[1] if request.query_params.get("tasks") == "more" else TASK_LIMITS[0]
    tasks = await store.all("dashboard_run_tasks", run_id=run_id, step_slug=step_filter, limit=task_limit + 1)
    waits: dict[str, list[dict[str, Any]]] = {}  # waiting steps: what they wait for, their child runs
    for wait in await store.all("dashboard_run_waits", run_id=run_id):
        waits.setdefault(wait["step_slug"], []).append(wait)
    now = now_utc()
    graph = dag.layout(steps, states, summary)
    order = [n.slug for n in sorted(graph.nodes, key=lambda n: (n.layer, n.y))]
    task_total = sum(s["total"] for s in summary.values()) if step_filter is None else \
        (summary.get(step_filter) or {}).get("total", 0)
    nav = {"run_id": run_id, "flow_slug": run["flow_slug"], "started_at": run["started_at"]}
    context = {
        "title": f"Run {short_id(run_id)}",
        "nav": "runs",
        "run": run,
        "graph": graph,
        "gantt": dag.gantt(order, states, run, now, summary),
        "steps": [{**s, "due_at": step_due.get(s["step_slug"]), "waits": waits.get(s["step_slug"], [])}
                  for s in step_rows(steps, states, summary, order)],
        "run_due_at": run_due_at(active, due),
        "tasks": tasks[:task_limit],
        "tasks_truncated": len(tasks) > task_limit,
        "more_tasks": task_limit < TASK_LIMITS[1],
        "task_total": task_total,
        "step_filter": step_filter,
        "older": await store.one("dashboard_run_older", **nav),
        "newer": await store.one("dashboard_run_newer", **nav),
        "duration": (run.get("completed_at") or run.get("failed_at") or now) - run["started_at"],
        "done_steps": sum(1 for s in states.values() if s["status"] in (StepStatus.COMPLETED, StepStatus.SKIPPED)),
        **await run_controls(request, run),  # lineage, actions and their audit (pgflow.web.run_actions)
    }
    # a finished run never changes again: only a running one listens to its events
    return dash.page(request, "run.html", context, live=f"run:{run_id}" if run["status"] == RunStatus.STARTED else None)


def _is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True


async def _redirect_to_run(request: Request) -> Response:
    """``/runs/<part>``: the one run whose id starts or ends with ``part`` (e.g. a short id)."""
    part = request.path_params["run_id"]
    try:
        run_id = await dashboard_of(request).store.run(find_run_id(part))
    except (InvalidInput, RunNotFound) as exc:
        raise HTTPException(404, str(exc)) from None
    root = request.scope.get("root_path", "").rstrip("/")
    return RedirectResponse(f"{root}/runs/{run_id}" + ("?" + request.url.query if request.url.query else ""))
