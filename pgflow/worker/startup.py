"""The worker's one-off database steps: compile, register, enable notifications, hand back, stop."""

from __future__ import annotations

import asyncio
import importlib.metadata
import time
from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

import psycopg

from pgflow.db.queries import query
from pgflow.dsl.flow import Flow
from pgflow.errors import ConfigurationError
from pgflow.models import FlowInfo
from pgflow.ops import flows as flow_ops
from pgflow.db import drive_async
from pgflow.worker.config import WorkerConfig
from pgflow.db import Database
from pgflow.worker.executor import ClaimedTask
from pgflow.worker.plan import StepPlan, plan_flows, start_delays
from pgflow.worker.poller import QueueInfo


def check_flows(flows: Iterable[Flow]) -> list[Flow]:
    if isinstance(flows, Flow):
        flows = [flows]
    found: list[Flow] = []
    for flow in flows:
        if not isinstance(flow, Flow):
            raise ConfigurationError(
                f"a worker serves pgflow.Flow and pgflow.Job objects, got {type(flow).__name__} {flow!r}"
            )
        flow.require_steps()
        if any(f.slug == flow.slug for f in found):
            raise ConfigurationError(f"flow {flow.slug!r} is given twice; pass each flow or job once")
        found.append(flow)
    if not found:
        raise ConfigurationError("a worker needs at least one flow or job: Worker(dsn, [my_flow, my_job])")
    return found


async def resolve_conninfo(target: Any) -> str:
    """The connection string of a DSN, a Client or AsyncClient, or (None) the configured database."""
    if target is None or isinstance(target, str):
        from pgflow.db.dsn import resolve_dsn

        return await asyncio.to_thread(resolve_dsn, target)
    from pgflow.db.pools import connect_args, libpq_conninfo

    conninfo = getattr(target, "_conninfo", None)
    if conninfo is not None and asyncio.iscoroutinefunction(conninfo):  # AsyncClient
        dsn, kwargs = await conninfo()
        return libpq_conninfo(dsn, kwargs)
    if hasattr(target, "open") and hasattr(target, "_dsn"):  # Client
        await asyncio.to_thread(target.open)
        if target._dsn:
            return str(target._dsn)
        return libpq_conninfo(*await connect_args(target._pool))  # the caller's own pool
    raise ConfigurationError(
        f"Worker takes a database URL, a pgflow.Client or AsyncClient, or None; got {type(target).__name__}"
    )


async def compile_flows(db: Database, flows: list[Flow], allow_data_loss: bool) -> dict[str, FlowInfo]:
    """Ensure each flow in the database (FlowShapeMismatch refuses to start); return what is stored."""
    stored: dict[str, FlowInfo] = {}
    for flow in flows:
        async def compile_one(conn: psycopg.AsyncConnection[Any], flow: Flow = flow) -> FlowInfo:
            await drive_async(conn, flow_ops.compile_flow(flow, allow_data_loss))
            return await drive_async(conn, flow_ops.get_flow(flow))

        stored[flow.slug] = await db.call(f"compile_flow {flow.slug}", compile_one, deadline=time.monotonic() + 60)
    return stored


def plan(
    flows: list[Flow], stored: dict[str, FlowInfo], worker_ids: dict[str, UUID], config: WorkerConfig
) -> tuple[dict[tuple[str, str], StepPlan], list[QueueInfo]]:
    plans = plan_flows(flows, stored)
    queues: list[QueueInfo] = []
    for flow in flows:
        info = stored[flow.slug]
        if info.queue_mode == "step":  # each step's private queue, claimed with its step's slug
            queues += [QueueInfo(name=step.queue_name, worker_id=worker_ids[flow.slug],
                                 start_delays=(step.start_delay,) if step.start_delay else (),
                                 flow_slug=flow.slug, step_slug=step.step_slug) for step in info.steps]
        else:
            queues.append(QueueInfo(name=flow.slug.lower(), worker_id=worker_ids[flow.slug],
                                    start_delays=start_delays(info), flow_slug=flow.slug))
    return plans, queues


def worker_version() -> str:
    """What the worker writes to ``workers.pgflow_version``: ``pgflow-py/<installed version>``
    (a TypeScript worker writes its bare package version, so the two stay apart)."""
    try:
        return f"pgflow-py/{importlib.metadata.version('pgflow-py')}"
    except importlib.metadata.PackageNotFoundError:  # running from a source tree
        return "pgflow-py/unknown"


async def register(db: Database, function_name: str, worker_ids: dict[str, UUID]) -> None:
    """``track_worker_function`` (start mode 'process'), then one ``pgflow.workers`` row per queue
    (before any claim)."""
    deadline = time.monotonic() + 60
    await db.fetch("worker_track_function", {"function_name": function_name}, deadline=deadline)
    await insert_worker_rows(db, function_name, worker_ids, deadline=deadline)


async def insert_worker_rows(db: Database, function_name: str, worker_ids: Mapping[str, UUID],
                             **options: Any) -> None:
    """The ``pgflow.workers`` rows of ``worker_ids`` (queue -> id): at start, and again for rows
    that disappeared while the worker runs (deleted by hand or by an over-eager prune)."""
    await db.fetch("worker_register", {
        "function_name": function_name,
        "pgflow_version": worker_version(),
        "worker_ids": list(worker_ids.values()),
        "queue_names": list(worker_ids),
    }, **options)


async def enable_notify(db: Database, queues: list[QueueInfo], config: WorkerConfig) -> dict[str, int]:
    """Make pgmq notify inserts into each queue; returns each queue's throttle (ms).

    A queue whose notifications are already enabled keeps its throttle (re-enabling recreates
    the trigger, which would lock the queue table while other workers use it).
    """
    throttles: dict[str, int] = {}
    for queue in queues:
        async def enable(conn: psycopg.AsyncConnection[Any], name: str = queue.name) -> int:
            async with conn.transaction():
                await conn.execute(query("worker_notify_lock"), {"queue_name": name})
                row = await (await conn.execute(query("worker_notify_throttle"), {"queue_name": name})).fetchone()
                if row is not None:
                    return int(row[0])
                await conn.execute(query("worker_enable_notify"),
                                   {"queue_name": name, "throttle_ms": config.notify_throttle_ms})
                return config.notify_throttle_ms

        throttles[queue.name] = await db.call("worker_enable_notify", enable, deadline=time.monotonic() + 60)
    return throttles


async def hand_back(db: Database, tasks: list[ClaimedTask], worker_ids: dict[str, UUID]) -> int:
    """Return unfinished tasks to their queues with ``pgflow.hand_back_tasks`` (visible at once,
    the attempt not counted); ``worker_ids`` maps each queue to the id its tasks were claimed with."""
    rows = await db.fetch("worker_hand_back_tasks", {
        "flow_slugs": [t.flow_slug for t in tasks],
        "queue_names": [t.queue_name for t in tasks],
        "msg_ids": [t.msg_id for t in tasks],
        "worker_ids": [worker_ids[t.flow_slug] for t in tasks],
    }, deadline=time.monotonic() + 10)
    return int(rows[0]["handed_back"]) if rows else 0


async def mark_stopped(db: Database, worker_ids: list[UUID]) -> None:
    try:
        await db.fetch("worker_mark_stopped", {"worker_ids": worker_ids}, deadline=time.monotonic() + 5)
    except psycopg.Error:
        pass  # the heartbeat stops, so health_check reports the worker dead soon anyway
