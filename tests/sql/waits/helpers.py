"""Set-up for the waiting-step tests: a flow whose steps wait (signal, sleep, subflow), defined in
SQL as Client.compile stores it (the steps, then pgflow._set_wait_steps)."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from tests.sql.helpers import StepSpec, define_flow, scalar


def define_waiting_flow(conn: psycopg.Connection, flow: str, steps: list[StepSpec],
                        waits: dict[str, dict[str, Any]], **flow_options: Any) -> None:
    """Define ``flow`` with ``steps`` (as define_flow) and make the steps named in ``waits`` wait,
    e.g. ``{"approval": {"wait_kind": "signal", "timeout_seconds": 60}}``."""
    define_flow(conn, flow, steps, **flow_options)
    conn.execute("SELECT pgflow._set_wait_steps(%s, %s)",
                 (flow, Jsonb([{"step_slug": slug, **spec} for slug, spec in waits.items()])))


def signal(conn: psycopg.Connection, run_id: uuid.UUID, step: str, payload: Any) -> dict[str, Any]:
    result: dict[str, Any] = scalar(conn, "SELECT pgflow.signal(%s, %s, %s)", (run_id, step, Jsonb(payload)))
    return result


def wait_row(conn: psycopg.Connection, run_id: uuid.UUID, step: str, task_index: int = 0) -> dict[str, Any] | None:
    found = conn.execute("SELECT * FROM pgflow.waits WHERE run_id = %s AND step_slug = %s AND task_index = %s",
                         (run_id, step, task_index))
    names = [c.name for c in found.description or ()]
    row = found.fetchone()
    return None if row is None else dict(zip(names, row))


def make_due(conn: psycopg.Connection, run_id: uuid.UUID, step: str) -> None:
    """Move a wait's deadline into the past (set-up: the test does not wait for the clock)."""
    conn.execute("UPDATE pgflow.waits SET due_at = now() - interval '1 second', since = since - interval '1 hour' "
                 "WHERE run_id = %s AND step_slug = %s", (run_id, step))
