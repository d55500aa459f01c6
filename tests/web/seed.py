"""Test data for the dashboard, written straight into pgflow's tables.

Used where a test needs a state that is awkward to reach by driving the engine (a worker
that went silent ten minutes ago, a run that started an hour ago) and by the scale check.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
from psycopg.types.json import Jsonb


def define_flow(conn: psycopg.Connection, slug: str, steps: list[tuple[str, str, list[str]]],
                flow_type: str = "flow") -> None:
    """Insert a flow and its steps: ``steps`` = [(step_slug, step_type, deps), ...] in order."""
    conn.execute("INSERT INTO pgflow.flows (flow_slug, flow_type) VALUES (%s, %s)", (slug, flow_type))
    for i, (step, kind, deps) in enumerate(steps):
        conn.execute(
            "INSERT INTO pgflow.steps (flow_slug, step_slug, step_type, step_index, deps_count) VALUES (%s, %s, %s, %s, %s)",
            (slug, step, kind, i, len(deps)))
        for dep in deps:
            conn.execute("INSERT INTO pgflow.deps (flow_slug, dep_slug, step_slug) VALUES (%s, %s, %s)", (slug, dep, step))
    conn.execute("SELECT pgmq.create(%s)", (slug,))


def add_worker(conn: psycopg.Connection, queue: str, heartbeat_ago: timedelta, *, stopped: bool = False,
               started_ago: timedelta = timedelta(hours=1)) -> uuid.UUID:
    worker_id = uuid.uuid4()
    now = datetime.now(timezone.utc)
    conn.execute(
        "INSERT INTO pgflow.workers (worker_id, queue_name, function_name, started_at, last_heartbeat_at, stopped_at)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (worker_id, queue, "test-worker", now - started_ago, now - heartbeat_ago, (now - heartbeat_ago) if stopped else None))
    return worker_id


def add_run(conn: psycopg.Connection, flow: str, status: str, *, started_ago: timedelta = timedelta(minutes=5),
            took: timedelta = timedelta(seconds=3), input: Any = None, output: Any = None,
            states: dict[str, dict[str, Any]] | None = None, worker_id: uuid.UUID | None = None) -> uuid.UUID:
    """Insert a run with step states and tasks described by ``states``:

    ``{step: {"status": ..., "tasks": [task_status, ...], "error": ..., "skip_reason": ...}}``;
    times are spread over ``took`` from the run's start.
    """
    run_id = uuid.uuid4()
    start = datetime.now(timezone.utc) - started_ago
    end = start + took
    states = states or {}
    remaining = sum(1 for s in states.values() if s["status"] not in ("completed", "skipped"))
    conn.execute(
        "INSERT INTO pgflow.runs (run_id, flow_slug, status, input, output, remaining_steps, started_at, completed_at, failed_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (run_id, flow, status, Jsonb(input if input is not None else {"n": 1}), Jsonb(output) if output is not None else None,
         remaining if status == "started" else (0 if status == "completed" else remaining), start,
         end if status == "completed" else None, end if status == "failed" else None))
    n = max(len(states), 1)
    for i, (step, spec) in enumerate(states.items()):
        st = spec["status"]
        tasks = spec.get("tasks", [])
        s_start = start + took * i / n
        s_end = start + took * (i + 1) / n
        done_tasks = sum(1 for t in tasks if t == "completed")
        conn.execute(
            "INSERT INTO pgflow.step_states (flow_slug, run_id, step_slug, status, remaining_tasks, initial_tasks,"
            " remaining_deps, output, error_message, skip_reason, created_at, started_at, completed_at, failed_at, skipped_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (flow, run_id, step, st,
             None if st in ("created", "skipped") else (0 if st == "completed" else len(tasks) - done_tasks),
             None if st in ("created", "skipped") else len(tasks),
             spec.get("remaining_deps", 0), Jsonb(spec.get("output", {"ok": step})) if st == "completed" else None,
             spec.get("error"), spec.get("skip_reason") if st == "skipped" else None, start,
             s_start if st in ("started", "completed", "failed") else None,
             s_end if st == "completed" else None, s_end if st == "failed" else None,
             s_end if st == "skipped" else None))
        for index, t_status in enumerate(tasks):
            conn.execute(
                "INSERT INTO pgflow.step_tasks (flow_slug, run_id, step_slug, task_index, status, attempts_count,"
                " error_message, output, queued_at, started_at, completed_at, failed_at, last_worker_id)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (flow, run_id, step, index, t_status, 0 if t_status == "queued" else (3 if t_status == "failed" else 1),
                 spec.get("error") if t_status == "failed" else None,
                 Jsonb({"item": index}) if t_status == "completed" else None,
                 s_start, None if t_status == "queued" else s_start,
                 s_end if t_status == "completed" else None, s_end if t_status == "failed" else None,
                 None if t_status == "queued" else worker_id))
    return run_id
