"""Calls of pgflow.start_flow_idempotent for its behaviour tests."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from tests.sql.helpers import scalar

DAY = timedelta(days=1)


def start_keyed(conn: psycopg.Connection, flow: str, key: Any, flow_input: Any = None,
                ttl: timedelta | None = DAY) -> uuid.UUID:
    """Start (or find) the run of ``flow`` with idempotency ``key``; its run id."""
    return scalar(conn, "SELECT run_id FROM pgflow.start_flow_idempotent(%s, %s, %s, %s)",
                  (flow, Jsonb({} if flow_input is None else flow_input), key, ttl))


def end_run(conn: psycopg.Connection, run_id: uuid.UUID, ended_ago: timedelta, status: str = "failed") -> None:
    """Mark a run as ended ``ended_ago`` (how long before now) with ``status``."""
    column = {"failed": "failed_at", "completed": "completed_at"}[status]
    conn.execute("UPDATE pgflow.runs SET started_at = now() - %s - interval '1 minute' WHERE run_id = %s",
                 (ended_ago, run_id))
    if column == "failed_at":
        conn.execute("UPDATE pgflow.runs SET status = 'failed', failed_at = now() - %s WHERE run_id = %s",
                     (ended_ago, run_id))
    else:
        conn.execute("UPDATE pgflow.runs SET status = 'completed', completed_at = now() - %s WHERE run_id = %s",
                     (ended_ago, run_id))
