"""Checked by mypy in tests/unit/test_client_types.py, never run: what type checkers see.

Each ``# type: ignore[...]`` marks a call that must be rejected; mypy runs with
``--warn-unused-ignores``, so a call that stopped being rejected fails the test too.
"""

from collections.abc import Awaitable
from uuid import UUID

from typing_extensions import assert_type

import pgflow
from pgflow.models import FlowInfo, Run, Schedule


def sync_client(client: pgflow.Client, flow: pgflow.Flow) -> None:
    assert_type(client.start_flow(flow, {"n": 1}), UUID)
    assert_type(client.get_run_with_states("3f2a9c1e-0b7d-4c55-9d0e-6a1b2c3d4e5f"), Run)
    assert_type(client.list_flows(), list[FlowInfo])
    assert_type(client.delete_flow(flow), None)
    client.get_run(1)  # type: ignore[arg-type]
    client.enqueue_in(flow, {}, seconds="soon")  # type: ignore[arg-type]


async def async_client(client: pgflow.AsyncClient, flow: pgflow.Flow) -> None:
    assert_type(client.start_flow(flow, {"n": 1}), Awaitable[UUID])
    assert_type(await client.start_flow_sync(flow, {"n": 1}), Run)
    assert_type(await client.list_runs(flow, status="failed"), list[Run])
    assert_type(await client.pause_schedule("nightly"), Schedule)
    await client.get_run("a", "b")  # type: ignore[call-arg]
