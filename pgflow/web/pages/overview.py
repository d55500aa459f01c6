"""Overview: runs by status over a window, throughput, failures, queue depths, active workers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

import psycopg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pgflow.web.pages import WINDOWS, Dashboard, dashboard_of, now_utc, window_param
from pgflow.web.store import Store

BUCKETS = {"1h": timedelta(minutes=5), "24h": timedelta(hours=1), "7d": timedelta(hours=6), "30d": timedelta(days=1)}
BUCKET_LABELS = {"1h": "5 minutes", "24h": "hour", "7d": "6 hours", "30d": "day"}
ORIGIN = datetime(2000, 1, 1, tzinfo=dt_timezone.utc)
CHART_W, CHART_H = 720, 150
DURATION_SAMPLE = 5000  # run times are measured over at most this many latest completed runs


def routes() -> list[Route]:
    return [Route("/", overview, name="overview")]


def chart(rows: list[dict[str, Any]], since: datetime, now: datetime, bucket: timedelta) -> dict[str, Any]:
    """Stacked bars per time bucket: completed, failed, running."""
    first = ORIGIN + ((since - ORIGIN) // bucket) * bucket
    slots: list[dict[str, Any]] = []
    at = first
    while at <= now and len(slots) < 400:
        slots.append({"at": at, "completed": 0, "failed": 0, "started": 0})
        at += bucket
    index = {s["at"]: s for s in slots}
    for r in rows:
        slot = index.get(r["bucket"])
        if slot is not None:
            slot[r["status"]] = int(r["n"])
    peak = max((s["completed"] + s["failed"] + s["started"] for s in slots), default=0) or 1
    step = CHART_W / max(len(slots), 1)
    for i, s in enumerate(slots):
        s["x"] = i * step + 1
        s["w"] = max(step - 2, 1)
        y = CHART_H
        for key in ("completed", "failed", "started"):
            h = s[key] / peak * (CHART_H - 10)
            y -= h
            s[key + "_y"], s[key + "_h"] = y, h
        s["total"] = s["completed"] + s["failed"] + s["started"]
    return {"slots": slots, "peak": peak, "width": CHART_W, "height": CHART_H}


async def queue_metrics(store: Store) -> tuple[list[dict[str, Any]], str | None]:
    try:
        return await store.all("dashboard_queue_metrics"), None
    except psycopg.errors.UndefinedFunction:
        return [], "pgmq.metrics_all() is not available in this database (pgmq is missing or too old)."


def worker_processes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per worker process (its rows share function_name and started_at: one per queue),
    in the rows' order: the first row's id and health, every queue, all its tasks."""
    processes: dict[tuple[Any, Any], dict[str, Any]] = {}
    for row in rows:
        key = (row["function_name"], row["started_at"])
        if key not in processes:
            processes[key] = {**row, "queues": [], "active_tasks": 0, "worker_ids": []}
        process = processes[key]
        process["queues"].append(row["queue_name"])
        process["worker_ids"].append(row["worker_id"])
        process["active_tasks"] += row["active_tasks"]
    for process in processes.values():
        process["queues"].sort()
    return list(processes.values())


async def overview(request: Request) -> Response:
    dash = dashboard_of(request)
    window_name, _ = window_param(request)
    context = await dash.cached(("overview", window_name), lambda: _overview_context(dash, window_name))
    return dash.page(request, "overview.html", context)


async def _overview_context(dash: Dashboard, window_name: str) -> dict[str, Any]:
    """What the overview shows, read from the database: one reading serves every viewer for
    ``dash.cache_ttl`` seconds (:meth:`Dashboard.cached`). The queries run side by side on the
    dashboard's pool."""
    store = dash.store
    window = WINDOWS[window_name]
    now = now_utc()
    since = now - window
    reads: list[Awaitable[Any]] = [
        store.all("dashboard_run_buckets", since=since, bucket=BUCKETS[window_name], origin=ORIGIN),
        store.one("dashboard_run_durations", since=since, flow_slug=None, sample=DURATION_SAMPLE),
        store.all("dashboard_worker_health_counts", since=now - timedelta(days=1),
                  stale_after=dash.stale_after, dead_after=dash.dead_after),
        store.all("dashboard_workers", since=now - dash.dead_after, limit=50,
                  stale_after=dash.stale_after, dead_after=dash.dead_after),
        queue_metrics(store),
        store.one("dashboard_running_count"),
        store.all("dashboard_recent_failures", since=since, limit=8),
        store.all("dashboard_failing_steps", since=since, limit=6),
    ]
    (buckets, durations, health_rows, workers, (queues, queue_problem), running, failures,
     failing_steps) = await asyncio.gather(*reads)
    counts: dict[str, int] = {}
    for r in buckets:
        counts[r["status"]] = counts.get(r["status"], 0) + int(r["n"])
    finished = counts.get("completed", 0) + counts.get("failed", 0)
    return {
        "title": "Overview",
        "window_name": window_name,
        "windows": list(BUCKETS),
        "counts": counts,
        "total": sum(counts.values()),
        **_running_now(running),
        "success_rate": (counts.get("completed", 0) / finished * 100) if finished else None,
        "throughput_per_hour": counts.get("completed", 0) / (window.total_seconds() / 3600),
        "durations": durations or {},
        "duration_sample": DURATION_SAMPLE,
        "chart": chart(buckets, since, now, BUCKETS[window_name]),
        "bucket_label": BUCKET_LABELS[window_name],
        "failures": failures,
        "failing_steps": failing_steps,
        "queues": queues,
        "queue_problem": queue_problem,
        "health": {r["health"]: int(r["n"]) for r in health_rows},
        "workers": worker_processes([w for w in workers if w["health"] in ("healthy", "stale")]),
    }


def _running_now(counts: dict[str, Any] | None) -> dict[str, int]:
    """Runs running now, and started runs that only wait for later (shown apart, not as running)."""
    started, waiting = (int(counts[k] or 0) for k in ("started", "waiting")) if counts else (0, 0)
    return {"running_now": started - waiting, "scheduled_now": waiting}
