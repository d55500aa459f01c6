"""Calls of pgflow.resume_run for its behaviour tests."""

from __future__ import annotations

import uuid

import psycopg

from tests.sql.helpers import scalar


def resume_run(conn: psycopg.Connection, run_id: uuid.UUID, force: bool = False) -> uuid.UUID:
    """Resume a run; the new run's id."""
    return scalar(conn, "SELECT run_id FROM pgflow.resume_run(%s, %s)", (run_id, force))


def queued(conn: psycopg.Connection, run_id: uuid.UUID) -> list[tuple[str, int]]:
    """(step, task_index) of the run's queued tasks."""
    return [(r[0], r[1]) for r in conn.execute(
        "SELECT step_slug, task_index FROM pgflow.step_tasks WHERE run_id = %s AND status = 'queued'"
        " ORDER BY step_slug, task_index", (run_id,))]
