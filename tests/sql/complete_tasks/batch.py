"""Driving runs with complete_tasks (the batch) and with complete_task (one by one) to compare them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from tests.sql.helpers import complete_task, read_and_start, rows

Output = Callable[[dict[str, Any]], Any]


def complete_batch(conn: psycopg.Connection, tasks: list[dict[str, Any]], output: Output) -> list[dict[str, Any]]:
    """One complete_tasks call for ``tasks`` (rows of start_tasks), each with ``output(task)``."""
    return rows(conn, "SELECT * FROM pgflow.complete_tasks(%s::uuid[], %s::text[], %s::int[], %s::jsonb[])",
                ([t["run_id"] for t in tasks], [t["step_slug"] for t in tasks], [t["task_index"] for t in tasks],
                 [Jsonb(output(t)) for t in tasks]))


def drive(conn: psycopg.Connection, flow: str, worker: uuid.UUID, output: Output, batched: bool, rounds: int = 20) -> None:
    """Claim and complete every task of the flow's queue until none is left."""
    for _ in range(rounds):
        claimed = read_and_start(conn, flow, worker, qty=1000)
        if not claimed:
            return
        if batched:
            complete_batch(conn, claimed, output)
        else:
            for t in claimed:
                complete_task(conn, t["run_id"], t["step_slug"], t["task_index"], output(t))
    raise AssertionError(f"{flow} still has work after {rounds} rounds")


def snapshot(conn: psycopg.Connection, run_id: uuid.UUID) -> dict[str, Any]:
    """Everything a run left behind, without ids and times."""
    run = rows(conn, "SELECT status, output, remaining_steps FROM pgflow.runs WHERE run_id = %s", (run_id,))
    states = rows(conn, "SELECT step_slug, status, output, remaining_tasks, remaining_deps, initial_tasks,"
                        " completed_at IS NOT NULL AS has_completed_at, error_message"
                        " FROM pgflow.step_states WHERE run_id = %s ORDER BY step_slug", (run_id,))
    tasks = rows(conn, "SELECT step_slug, task_index, status, output, attempts_count"
                       " FROM pgflow.step_tasks WHERE run_id = %s ORDER BY step_slug, task_index", (run_id,))
    return {"run": run, "states": states, "tasks": tasks}


def archived_count(conn: psycopg.Connection, flow: str, run_id: uuid.UUID) -> int:
    return rows(conn, "SELECT count(*) AS n FROM pgflow.step_tasks t WHERE t.run_id = %s AND t.message_id IN"
                      " (SELECT msg_id FROM pgmq.a_" + flow + ")", (run_id,))[0]["n"]
