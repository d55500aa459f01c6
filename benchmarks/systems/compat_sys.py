"""The compatible path: a worker that drives a pgflow-py database only through the interface a
pgflow 0.17.1 TypeScript flow worker uses, with that worker's defaults.

Its loop is the TypeScript worker's (``StepTaskPoller`` + ``BatchProcessor`` of
@pgflow/edge-worker): ``pgmq.read_with_poll`` of up to ``batchSize`` messages on the flow's queue
(visibility 5 s, long-poll 2 s, in-database poll every 100 ms), one ``pgflow.start_tasks`` call for
them, then each task's (no-op) handler and one ``pgflow.complete_task`` per task, at most
``maxConcurrent`` (10) tasks at once, over a pool of ``maxPgConnections`` (4) connections. The
statements are those of tests/compat/ts_worker.py, which the compatibility tests run.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from benchmarks.drain import wait_for_go
from benchmarks.sql import q
from benchmarks.systems._cli import worker_args

# DEFAULT_FLOW_CONFIG of @pgflow/edge-worker 0.17.1 (FlowWorker)
MAX_CONCURRENT = 10
MAX_PG_CONNECTIONS = 4
BATCH_SIZE = 10
VISIBILITY_TIMEOUT = 5
MAX_POLL_SECONDS = 2
POLL_INTERVAL_MS = 100

# what the no-op handlers of benchmarks/flows.py return, by step
OUTPUTS = {"a": 1, "b": 2, "c": 3, "top": 1, "left": 2, "right": 3, "bottom": 4}


async def serve(dsn: str, flow_slug: str, batch: int, concurrency: int) -> None:
    queue = flow_slug.lower()  # flow mode: the flow's canonical queue
    worker_id = str(uuid.uuid4())
    slots = asyncio.Semaphore(concurrency)
    running: set[asyncio.Task[None]] = set()
    stopping = asyncio.Event()
    async with AsyncConnectionPool(dsn, min_size=MAX_PG_CONNECTIONS, max_size=MAX_PG_CONNECTIONS,
                                   kwargs={"autocommit": True}, open=False) as pool:
        await pool.open(wait=True)
        async with pool.connection() as conn:  # as the TypeScript worker registers at start
            await conn.execute(q("ts_register_worker"), {"queue": queue, "worker_id": worker_id})
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, wait_for_go)  # connected: start-up is not timed
        loop.add_signal_handler(signal.SIGTERM, stopping.set)  # finish what is in flight, then leave

        async def execute(task: dict[str, Any]) -> None:
            try:
                output = OUTPUTS.get(task["step_slug"])
                async with pool.connection() as conn:
                    await conn.execute(q("ts_complete_task"), {
                        "run_id": task["run_id"], "step_slug": task["step_slug"],
                        "task_index": task["task_index"], "output": json.dumps(output)})
            finally:
                slots.release()

        while not stopping.is_set():
            async with pool.connection() as conn:
                cur = conn.cursor(row_factory=dict_row)
                messages = await (await cur.execute(q("ts_read_with_poll"), {
                    "queue": queue, "vt": VISIBILITY_TIMEOUT, "qty": batch,
                    "max_poll": MAX_POLL_SECONDS, "poll_ms": POLL_INTERVAL_MS})).fetchall()
                tasks = []
                if messages:
                    tasks = await (await cur.execute(q("ts_start_tasks"), {
                        "flow_slug": flow_slug, "msg_ids": [m["msg_id"] for m in messages],
                        "worker_id": worker_id, "queue": queue})).fetchall()
            for task in tasks:
                await slots.acquire()
                job = asyncio.create_task(execute(task))
                running.add(job)
                job.add_done_callback(running.discard)
        await asyncio.gather(*running)


def worker(argv: list[str]) -> None:
    args = worker_args(argv)
    (flow_slug,) = args.flows.split(",")  # a TypeScript flow worker serves one flow

    asyncio.run(serve(args.dsn, flow_slug, args.batch, args.concurrency))


if __name__ == "__main__":
    worker(sys.argv[1:])
