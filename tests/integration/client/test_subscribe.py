"""AsyncClient.subscribe: typed events of one run, or of every run."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest

import pgflow
from pgflow import events

from tests.helpers import eventually_async

from . import sim
from .conftest import failing_flow, two_step_flow


async def test_one_run_yields_its_events_in_order_and_ends(db_url: str) -> None:
    flow = two_step_flow()
    async with pgflow.AsyncClient(db_url) as client:
        await client.compile(flow)
        run_id = uuid.uuid4()
        async with client.subscribe(run_id) as subscription:
            await client.start_flow(flow, {"n": 2}, run_id=run_id)
            await asyncio.to_thread(sim.drain, db_url, flow)
            received = [e async for e in subscription]
    assert all(e.run_id == run_id for e in received)
    kinds = [(e.event_type, getattr(e, "step_slug", None)) for e in received]
    assert kinds == [
        ("run:started", None),
        ("step:started", "double"),
        ("task:started", "double"),
        ("task:completed", "double"),
        ("step:completed", "double"),
        ("step:started", "add_one"),
        ("task:started", "add_one"),
        ("task:completed", "add_one"),
        ("step:completed", "add_one"),
        ("run:completed", None),
    ]
    assert isinstance(received[-1], events.RunCompletedEvent) and received[-1].output == {"add_one": 5}


async def test_all_runs_subscription_sees_every_run(db_url: str) -> None:
    ok, bad = two_step_flow(), failing_flow()
    async with pgflow.AsyncClient(db_url) as client:
        await client.compile(ok)
        await client.compile(bad)
        async with client.subscribe() as subscription:
            first = await client.start_flow(ok, {"n": 1})
            second = await client.start_flow(bad, {})
            await asyncio.to_thread(sim.drain, db_url, bad)
            finished = {}
            async for event in subscription:
                if event.event_type in ("run:completed", "run:failed"):
                    finished[event.run_id] = event
                if event.run_id == first and event.event_type == "run:started":
                    await asyncio.to_thread(sim.drain, db_url, ok)
                if len(finished) == 2:
                    break
    assert isinstance(finished[first], events.RunCompletedEvent)
    assert isinstance(finished[second], events.RunFailedEvent) and finished[second].failed_step_slug == "explode"


async def test_iterating_without_async_with_listens_until_the_run_ends(db_url: str) -> None:
    flow = pgflow.Flow("instant")

    @flow.map
    def each(item):
        return item

    async with pgflow.AsyncClient(db_url) as client:
        await client.compile(flow)
        run_id = uuid.uuid4()
        collected: list[str] = []

        async def collect() -> None:
            async for event in client.subscribe(run_id):
                collected.append(event.event_type)

        listening = asyncio.create_task(collect())
        # the subscription LISTENs on its first iteration; start the run once it does
        await eventually_async(lambda: _listening(db_url, run_id), timeout=10, message="the LISTEN")
        await client.start_flow(flow, [], run_id=run_id)
        await asyncio.wait_for(listening, timeout=30)
    assert collected[0] == "run:started" and collected[-1] == "run:completed"


async def _listening(db_url: str, run_id: uuid.UUID) -> bool:
    async with await psycopg.AsyncConnection.connect(db_url) as conn:
        cur = await conn.execute("SELECT count(*) FROM pgflow.subscribers WHERE channel = %s",
                                 (f"pgflow:run:{run_id}",))
        row = await cur.fetchone()
        return bool(row and row[0])


async def test_subscribe_to_an_unreachable_database_fails_clearly() -> None:
    client = pgflow.AsyncClient("postgresql://pgflow@127.0.0.1:1/nowhere?connect_timeout=2")
    with pytest.raises(pgflow.DatabaseUnavailable):
        async with client.subscribe():
            pass
    await client.close()
