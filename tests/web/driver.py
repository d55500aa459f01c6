"""Drive real runs through the engine's SQL functions, as a worker does, one batch at a time.

pgmq.read -> pgflow.start_tasks -> the step's handler -> pgflow.complete_task / fail_task.
Deterministic (no threads, no polling), so a test can stop a run half-way: some tasks done,
one started, others still queued.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row


class Driver:
    """A registered worker that claims and finishes tasks of one flow on request."""

    def __init__(self, url: str, flow: Any) -> None:
        self.flow = flow
        self.worker_id = uuid.uuid4()
        self.conn = psycopg.connect(url, autocommit=True, row_factory=dict_row)
        self.conn.execute(
            "INSERT INTO pgflow.workers (worker_id, queue_name, function_name) VALUES (%s, %s, 'dashboard-tests')",
            (self.worker_id, flow.slug))

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Driver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def heartbeat(self) -> None:
        self.conn.execute("UPDATE pgflow.workers SET last_heartbeat_at = now() WHERE worker_id = %s", (self.worker_id,))

    def claim(self, qty: int = 50) -> list[dict[str, Any]]:
        """Read up to ``qty`` visible messages and start their tasks."""
        rows = self.conn.execute("SELECT msg_id FROM pgmq.read(%s, 30, %s)", (self.flow.slug, qty)).fetchall()
        if not rows:
            return []
        return self.conn.execute("SELECT * FROM pgflow.start_tasks(%s, %s, %s, lower(%s))",
                                 (self.flow.slug, [r["msg_id"] for r in rows], self.worker_id,
                                  self.flow.slug)).fetchall()

    def finish(self, task: dict[str, Any]) -> None:
        """Run the step's handler on the task's input and report the outcome."""
        step = self.flow.get_step(task["step_slug"])
        value = task["flow_input"] if task["flow_input"] is not None else task["input"]
        try:
            output = step.handler(value)
        except Exception as exc:  # a failing handler: report it as a worker does
            self.conn.execute("SELECT pgflow.fail_task(%s, %s, %s, %s)",
                              (task["run_id"], task["step_slug"], task["task_index"], f"{type(exc).__name__}: {exc}"))
            return
        self.conn.execute("SELECT pgflow.complete_task(%s, %s, %s, %s::jsonb)",
                          (task["run_id"], task["step_slug"], task["task_index"], json.dumps(output)))

    def drain(self, rounds: int = 50) -> None:
        """Claim and finish tasks until the queue has no visible message (bounded)."""
        for _ in range(rounds):
            tasks = self.claim()
            if not tasks:
                return
            for task in tasks:
                self.finish(task)
        raise AssertionError(f"the queue {self.flow.slug!r} did not drain in {rounds} rounds")
