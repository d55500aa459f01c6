"""Workers: health from heartbeats (healthy, stale, dead; stopped when shut down cleanly)."""

from __future__ import annotations

from datetime import timedelta

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pgflow.ops.runs import short_id
from pgflow.web.pages import dashboard_of, now_utc, uuid_param

HEALTHS = ("healthy", "stale", "dead", "stopped")
LIST_LIMIT = 200
SHOWN_FOR = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "all": None}


def routes() -> list[Route]:
    return [Route("/workers", worker_list, name="workers"), Route("/workers/{worker_id}", worker_page, name="worker")]


async def worker_list(request: Request) -> Response:
    dash = dashboard_of(request)
    health = request.query_params.get("health") or None
    if health is not None and health not in HEALTHS:
        raise HTTPException(400, f"health={health!r} is not one of {', '.join(HEALTHS)}")
    seen = request.query_params.get("seen") or "24h"
    if seen not in SHOWN_FOR:
        raise HTTPException(400, f"seen={seen!r} is not one of {', '.join(SHOWN_FOR)}")
    shown_for = SHOWN_FOR[seen]
    since = now_utc() - shown_for if shown_for else None
    rows = await dash.store.all("dashboard_workers", since=since, limit=LIST_LIMIT,
                                stale_after=dash.stale_after, dead_after=dash.dead_after)
    counts = {h: sum(1 for r in rows if r["health"] == h) for h in HEALTHS}
    if health:
        rows = [r for r in rows if r["health"] == health]
    context = {
        "title": "Workers", "rows": rows, "counts": counts, "health": health, "healths": HEALTHS,
        "seen": seen, "seen_choices": list(SHOWN_FOR), "limit": LIST_LIMIT,
        "stale_after": dash.stale_after, "dead_after": dash.dead_after,
    }
    return dash.page(request, "workers.html", context, live="poll")


async def worker_page(request: Request) -> Response:
    dash = dashboard_of(request)
    worker_id = uuid_param(request, "worker_id", "worker")
    worker = await dash.store.one("dashboard_worker", worker_id=worker_id,
                                  stale_after=dash.stale_after, dead_after=dash.dead_after)
    if worker is None:
        raise HTTPException(404, f"Worker {worker_id} is not registered (it may have been pruned).")
    context = {
        "title": f"Worker {short_id(worker_id)}",
        "nav": "workers",
        "worker": worker,
        "tasks": await dash.store.all("dashboard_worker_tasks", worker_id=worker_id, limit=50),
        "flows_served": await dash.store.all("dashboard_worker_flows", worker_id=worker_id),
        "stale_after": dash.stale_after, "dead_after": dash.dead_after,
    }
    return dash.page(request, "worker.html", context, live="poll")
