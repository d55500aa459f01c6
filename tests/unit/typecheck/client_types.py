"""Checked by mypy in tests/unit/test_client_types.py, never run: what type checkers see.

Each ``# type: ignore[...]`` marks a call that must be rejected; mypy runs with
``--warn-unused-ignores``, so a call that stopped being rejected fails the test too.
"""

from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any
from uuid import UUID

from typing_extensions import assert_type

import pgflow
from pgflow.models import FlowInfo, Run, Schedule
from pgflow.ops.health import WorkerHealth


def sync_client(client: pgflow.Client, flow: pgflow.Flow, job: pgflow.Job) -> None:
    assert_type(client.start_flow(flow, {"n": 1}), UUID)
    assert_type(client.start_flow("orders", [1, "two", None], run_id=UUID(int=1)), UUID)
    assert_type(client.get_run_with_states("3f2a9c1e-0b7d-4c55-9d0e-6a1b2c3d4e5f"), Run)
    assert_type(client.list_flows(), list[FlowInfo])
    assert_type(client.delete_flow(flow), None)
    assert_type(client.enqueue_in(job, {"to": "a@b.c"}, timedelta(seconds=5)), UUID)
    assert_type(client.health_check(include_stopped=True), list[WorkerHealth])
    assert_type(client.install(), list[str])
    counts: dict[str, int] = {"n": 1}
    client.start_flow(flow, counts)  # a dict[str, int] is JSON
    client.get_run(1)  # type: ignore[arg-type]
    client.enqueue_in(flow, {}, seconds="soon")  # type: ignore[arg-type]
    client.start_flow(flow, object())  # type: ignore[arg-type]
    client.start_flow(42, {})  # type: ignore[arg-type]
    client.list_runs(flow, limit="all")  # type: ignore[arg-type]


async def async_client(client: pgflow.AsyncClient, flow: pgflow.Flow) -> None:
    coroutine = client.start_flow(flow, {"n": 1})
    _ = assert_type(coroutine, Coroutine[Any, Any, UUID])
    assert_type(await coroutine, UUID)
    assert_type(await client.start_flow_sync(flow, {"n": 1}), Run)
    assert_type(await client.list_runs(flow, status="failed"), list[Run])
    assert_type(await client.pause_schedule("nightly"), Schedule)
    started: Awaitable[UUID] = client.start_flow("orders", None)
    assert_type(await started, UUID)
    task: Callable[[pgflow.Flow, dict[str, int]], Awaitable[UUID]] = client.start_flow  # as add_task sees it
    await task(flow, {"n": 1})
    await client.get_run("a", "b")  # type: ignore[call-arg]
    await client.start_flow(flow, {1, 2})  # type: ignore[arg-type]
