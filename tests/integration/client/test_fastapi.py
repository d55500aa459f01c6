"""A run started from a FastAPI route with ``background_tasks.add_task(client.start_flow, ...)``.

Starlette awaits a background task when ``inspect.iscoroutinefunction`` says it is async, and
runs anything else in a thread. ``AsyncClient.start_flow`` must be the former: in a thread it
would only return a coroutine that nobody awaits, and the run would never start.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import BackgroundTasks, FastAPI

from pgflow import AsyncClient
from pgflow.testing import drain_async
from tests.helpers import eventually_async
from tests.integration.client.conftest import two_step_flow


@pytest.fixture
async def client(db_url: str) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(db_url) as opened:
        yield opened


def make_app(client: AsyncClient, flow: Any) -> FastAPI:
    app = FastAPI()

    @app.post("/orders", status_code=202)
    async def create_order(order: dict[str, int], background_tasks: BackgroundTasks) -> dict[str, str]:
        run_id = uuid4()
        background_tasks.add_task(client.start_flow, flow, order, run_id)
        return {"run_id": str(run_id)}

    return app


async def test_a_background_task_starts_the_run_and_a_worker_completes_it(client: AsyncClient) -> None:
    flow = two_step_flow()
    await client.compile(flow)
    transport = httpx.ASGITransport(app=make_app(client, flow))
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
        response = await http.post("/orders", json={"n": 3})
    assert response.status_code == 202
    run_id = UUID(response.json()["run_id"])

    async def started() -> bool:
        return [r.run_id for r in await client.list_runs(flow)] == [run_id]

    await eventually_async(started, message="the background task started the run")
    await drain_async(client, [flow])
    run = await client.get_run(run_id)
    assert (run.status, run.output, run.input) == ("completed", {"add_one": 7}, {"n": 3})
