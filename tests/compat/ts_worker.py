"""The SQL a pgflow 0.17.1 TypeScript worker sends, statement by statement, on a psycopg connection.

Written from upstream's ``Queries.ts`` (registration, heartbeat, stop), ``StepTaskPoller.ts`` and
``PgflowSqlClient.ts`` (read, claim, report) of @pgflow/edge-worker and @pgflow/core 0.17.1,
started in process mode (the Node/Bun runtime): the statements, argument forms and casts are
theirs (named arguments, message ids as decimal text cast to ``bigint[]``); only the driver
differs. A test that passes here is a database a 0.17.1 TypeScript worker can share.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import psycopg
from psycopg.rows import dict_row

PGFLOW_VERSION = "0.17.1"

Handler = Callable[[dict[str, Any]], Any]


class WorkerStartupError(RuntimeError):
    """What the TypeScript worker raises when ensure_flow_compiled answers ``mismatch``."""


class TsWorkerSql:
    """One TypeScript worker: a flow-mode worker for ``flow_slug``, or (``step_slug``) the worker of
    one step of a flow with private step queues (``withStepQueues()``)."""

    def __init__(self, conn: psycopg.Connection[Any], flow_slug: str, shape: Mapping[str, Any], *,
                 step_slug: str | None = None, queue_mode: str = "flow",
                 route_map: list[dict[str, str]] | None = None, function_name: str = "ts-worker") -> None:
        self.conn = conn
        self.flow_slug = flow_slug
        self.shape = shape
        self.step_slug = step_slug
        self.queue_mode = queue_mode
        self.route_map = route_map
        self.function_name = function_name
        self.worker_id = str(uuid.uuid4())
        self.queue_name = self._route(step_slug) if step_slug else flow_slug.lower()

    def _route(self, step_slug: str) -> str:
        for route in self.route_map or ():
            if route["stepSlug"] == step_slug:
                return route["queueName"]
        raise ValueError(f"no route for step {step_slug!r} in {self.route_map!r}")

    def _rows(self, query: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description else []

    # ------------------------------------------------------------------ startup and lifecycle

    def start(self) -> dict[str, Any]:
        """Compile or verify the flow (refusing a mismatch), track the worker function in process
        mode, register the worker row with its pgflow version; returns ensure_flow_compiled's result."""
        [row] = self._rows(
            """SELECT pgflow.ensure_flow_compiled(
                   %(flow_slug)s, %(shape)s::jsonb, %(queue_mode)s::text, %(route_map)s::jsonb) AS result""",
            {"flow_slug": self.flow_slug, "shape": json.dumps(self.shape), "queue_mode": self.queue_mode,
             "route_map": None if self.route_map is None else json.dumps(self.route_map)})
        result: dict[str, Any] = row["result"]
        if result["status"] == "mismatch":
            raise WorkerStartupError(f"flow {self.flow_slug} does not match the database "
                                     f"({result.get('mismatchKind')}): {result.get('differences')}")
        self._rows("SELECT pgflow.track_worker_function(%(name)s, %(mode)s)",
                   {"name": self.function_name, "mode": "process"})
        self._rows(
            """INSERT INTO pgflow.workers (queue_name, worker_id, function_name, pgflow_version)
               VALUES (%(queue_name)s, %(worker_id)s, %(function_name)s, %(version)s)
               RETURNING *""",
            {"queue_name": self.queue_name, "worker_id": self.worker_id, "function_name": self.function_name,
             "version": PGFLOW_VERSION})
        return result

    def heartbeat(self) -> bool:
        """The heartbeat UPDATE; True when the worker was deprecated (told to stop)."""
        rows = self._rows(
            """UPDATE pgflow.workers AS w
                  SET last_heartbeat_at = clock_timestamp()
                WHERE w.worker_id = %(worker_id)s
            RETURNING (w.deprecated_at IS NOT NULL) AS is_deprecated""",
            {"worker_id": self.worker_id})
        return bool(rows[0]["is_deprecated"]) if rows else True

    def stop(self) -> None:
        self._rows("SELECT pgflow.mark_worker_stopped(%(worker_id)s::uuid)", {"worker_id": self.worker_id})

    # ------------------------------------------------------------------ tasks

    def poll(self, qty: int = 10, vt: int = 2, max_poll_seconds: int = 1) -> list[dict[str, Any]]:
        """Read messages from the worker's queue, then claim their tasks (five-argument start_tasks)."""
        messages = self._rows(
            """SELECT msg_id::text AS msg_id, read_ct, enqueued_at, vt, message, headers
                 FROM pgmq.read_with_poll(queue_name => %(queue)s, vt => %(vt)s, qty => %(qty)s,
                                          max_poll_seconds => %(max_poll)s, poll_interval_ms => 50)""",
            {"queue": self.queue_name, "vt": vt, "qty": qty, "max_poll": max_poll_seconds})
        if not messages:
            return []
        return self._rows(
            """SELECT * FROM pgflow.start_tasks(
                   flow_slug => %(flow_slug)s::text, msg_ids => %(msg_ids)s::bigint[],
                   worker_id => %(worker_id)s::uuid, queue_name => %(queue)s::text,
                   step_slug => %(step_slug)s::text)""",
            {"flow_slug": self.flow_slug, "msg_ids": [m["msg_id"] for m in messages], "worker_id": self.worker_id,
             "queue": self.queue_name, "step_slug": self.step_slug})

    def complete(self, task: Mapping[str, Any], output: Any) -> None:
        self._rows(
            """SELECT pgflow.complete_task(run_id => %(run_id)s::uuid, step_slug => %(step_slug)s::text,
                                           task_index => %(task_index)s::int, output => %(output)s::jsonb)""",
            {"run_id": task["run_id"], "step_slug": task["step_slug"], "task_index": task["task_index"],
             "output": json.dumps(output)})

    def fail(self, task: Mapping[str, Any], error: str) -> None:
        self._rows(
            """SELECT pgflow.fail_task(run_id => %(run_id)s::uuid, step_slug => %(step_slug)s::text,
                                       task_index => %(task_index)s::int, error_message => %(error)s::text)""",
            {"run_id": task["run_id"], "step_slug": task["step_slug"], "task_index": task["task_index"],
             "error": error})

    def handle(self, tasks: Iterable[Mapping[str, Any]], handlers: Mapping[str, Handler]) -> None:
        """Run each task's handler and report it, as the worker's executor does."""
        for task in tasks:
            try:
                output = handlers[task["step_slug"]](dict(task))
            except Exception as exc:  # the worker reports any handler error as the task's failure
                self.fail(task, str(exc))
            else:
                self.complete(task, output)


def work(workers: Iterable[TsWorkerSql], handlers: Mapping[str, Handler], done: Callable[[], bool],
         rounds: int = 40) -> None:
    """Poll and handle with every worker until ``done()``; at most ``rounds`` rounds."""
    workers = list(workers)
    for _ in range(rounds):
        if done():
            return
        for worker in workers:
            worker.handle(worker.poll(), handlers)
            worker.heartbeat()
    raise AssertionError(f"not done after {rounds} rounds of polling")
