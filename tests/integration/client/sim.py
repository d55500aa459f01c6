"""A stand-in for a worker in client tests: the SQL protocol a worker follows, called directly.

read the flow's pgmq queue -> pgflow.start_tasks (with a row in pgflow.workers) ->
run the step's handler -> pgflow.complete_task / pgflow.fail_task.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb


def register_worker(conn: psycopg.Connection[Any], queue: str) -> uuid.UUID:
    worker_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO pgflow.workers (worker_id, queue_name, function_name) VALUES (%s, %s, 'client-tests')",
        (worker_id, queue),
    )
    return worker_id


def claim(conn: psycopg.Connection[Any], flow_slug: str, worker_id: uuid.UUID, qty: int = 50) -> list[dict[str, Any]]:
    """Read the visible messages of the flow's queue and start their tasks."""
    msg_ids = [r[0] for r in conn.execute("SELECT msg_id FROM pgmq.read(%s, 30, %s)", (flow_slug, qty))]
    if not msg_ids:
        return []
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT * FROM pgflow.start_tasks(%s, %s, %s, lower(%s))",
                           (flow_slug, msg_ids, worker_id, flow_slug)).fetchall()


def complete(conn: psycopg.Connection[Any], task: dict[str, Any], output: Any) -> None:
    conn.execute(
        "SELECT pgflow.complete_task(%s, %s, %s, %s)",
        (task["run_id"], task["step_slug"], task["task_index"], Jsonb(output)),
    )


def fail(conn: psycopg.Connection[Any], task: dict[str, Any], message: str) -> None:
    conn.execute(
        "SELECT pgflow.fail_task(%s, %s, %s, %s)", (task["run_id"], task["step_slug"], task["task_index"], message)
    )


def drain(url: str, flow: Any, *, rounds: int = 20) -> int:
    """Run the flow's visible tasks with its handlers until none is left; returns tasks done.

    A handler that raises fails its task with the exception's text. Bounded by ``rounds``.
    """
    done = 0
    with psycopg.connect(url, autocommit=True) as conn:
        worker_id = register_worker(conn, flow.slug)
        for _ in range(rounds):
            tasks = claim(conn, flow.slug, worker_id)
            if not tasks:
                return done
            for task in tasks:
                step = flow.get_step(task["step_slug"])
                value = task["flow_input"] if task["flow_input"] is not None else task["input"]
                try:
                    output = step.handler(value)
                except Exception as exc:  # the handler's failure fails its task
                    fail(conn, task, str(exc))
                else:
                    complete(conn, task, json.loads(json.dumps(output)))
                done += 1
    return done
