"""Drive runs with the engine's own SQL functions, as a worker does, one task at a time.

pgmq.read -> pgflow.start_tasks -> the step's function -> pgflow.complete_task / fail_task.
Deterministic (no polling, no concurrency), so the live tests can drive a run to any point.
A retried task's message is made visible at once instead of after the backoff delay.
"""

from __future__ import annotations

import json
import uuid
from types import SimpleNamespace
from typing import Any

import psycopg
from psycopg.rows import dict_row


class SqlDriver:
    def __init__(self, url: str, flow: Any) -> None:
        self.url = url
        self.flow = flow
        self.flow_slug = flow.slug
        self.worker_id = uuid.uuid4()
        self.conn: psycopg.AsyncConnection[Any] | None = None

    async def __aenter__(self) -> SqlDriver:
        self.conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True, row_factory=dict_row)
        await self.conn.execute(
            "INSERT INTO pgflow.workers (worker_id, queue_name, function_name) VALUES (%s, %s, 'live-tests')",
            (self.worker_id, self.flow_slug))
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.conn is not None
        await self.conn.close()

    async def step(self) -> int:
        """Claim the visible messages and run their tasks; returns how many tasks ran."""
        assert self.conn is not None
        cur = await self.conn.execute("SELECT msg_id FROM pgmq.read(%s, 30, 50)", (self.flow_slug,))
        msg_ids = [r["msg_id"] for r in await cur.fetchall()]
        if not msg_ids:
            return 0
        cur = await self.conn.execute("SELECT * FROM pgflow.start_tasks(%s, %s, %s, lower(%s))",
                                      (self.flow_slug, msg_ids, self.worker_id, self.flow_slug))
        tasks = await cur.fetchall()
        for task in tasks:
            cur = await self.conn.execute(
                "SELECT attempts_count FROM pgflow.step_tasks WHERE run_id = %s AND step_slug = %s AND task_index = %s",
                (task["run_id"], task["step_slug"], task["task_index"]))
            attempt = (await cur.fetchone())["attempts_count"]
            value = task["flow_input"] if task["flow_input"] is not None else task["input"]
            try:
                step = self.flow.get_step(task["step_slug"])
                ctx = SimpleNamespace(attempt=attempt, run_id=task["run_id"], task_index=task["task_index"])
                output = step.handler(value, ctx) if step.takes_context else step.handler(value)
            except Exception as exc:  # the handler failed: report it as a worker does
                await self.conn.execute("SELECT pgflow.fail_task(%s, %s, %s, %s)",
                                        (task["run_id"], task["step_slug"], task["task_index"], str(exc)))
                await self.conn.execute("SELECT pgmq.set_vt(%s, %s, 0)", (self.flow_slug, task["msg_id"]))
                continue
            await self.conn.execute("SELECT pgflow.complete_task(%s, %s, %s, %s::jsonb)",
                                    (task["run_id"], task["step_slug"], task["task_index"], json.dumps(output)))
        return len(tasks)

    async def drain(self, rounds: int = 50) -> None:
        """Run tasks until no message is visible (bounded)."""
        for _ in range(rounds):
            if not await self.step():
                return
        raise AssertionError(f"the queue {self.flow_slug!r} did not drain in {rounds} rounds")
