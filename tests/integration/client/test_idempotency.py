"""Idempotency keys of start_flow, enqueue and start_flow_sync: one run per flow and key, the key
shown by get_run, bad keys refused before any SQL, concurrent starts from two clients."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

import pgflow
from pgflow.client import Client
from tests.helpers import eventually_async

from . import sim
from .conftest import Api, two_step_flow


async def test_a_second_start_with_the_key_returns_the_first_run(api: Api) -> None:
    flow = two_step_flow()
    await api.compile(flow)

    first = await api.start_flow(flow, {"n": 1}, idempotency_key="order-42")
    second = await api.start_flow(flow, {"n": 2}, idempotency_key="order-42")
    other = await api.start_flow(flow, {"n": 1}, idempotency_key="order-43")

    assert second == first and other != first
    run = await api.get_run(first)
    assert (run.idempotency_key, run.idempotency_ttl, run.input) == ("order-42", timedelta(hours=24), {"n": 1})
    assert len(await api.list_runs(flow=flow)) == 2


async def test_enqueue_in_and_at_take_a_key_and_a_ttl(api: Api) -> None:
    flow = two_step_flow()
    await api.compile(flow)

    first = await api.enqueue_in(flow, {"n": 1}, 3600, idempotency_key="k", idempotency_ttl=None)
    again = await api.enqueue_at(flow, {"n": 1}, datetime.now(timezone.utc), idempotency_key="k")
    now = await api.enqueue(flow, {"n": 1}, idempotency_key="k")

    assert again == first == now
    run = await api.get_run(first)
    assert run.idempotency_ttl is None and run.due_at is not None  # kept forever, still delayed


async def test_start_flow_sync_waits_for_the_keys_existing_run(api: Api, db_url: str) -> None:
    flow = two_step_flow()
    await api.compile(flow)
    first = await api.start_flow(flow, {"n": 3}, idempotency_key="sync")
    sim.drain(db_url, flow)

    run = await api.start_flow_sync(flow, {"n": 100}, timeout=30, idempotency_key="sync")

    assert (run.run_id, run.status, run.output) == (first, "completed", {"add_one": 7})


async def test_start_flow_sync_with_a_key_of_a_run_still_going_is_woken_by_its_end(api: Api, db_url: str) -> None:
    flow = two_step_flow()
    await api.compile(flow)
    first = await api.start_flow(flow, {"n": 3}, idempotency_key="later")
    waiting = asyncio.create_task(api.start_flow_sync(flow, {"n": 3}, timeout=30, idempotency_key="later"))

    def following() -> bool:  # the waiter listens on the existing run's channel
        with psycopg.connect(db_url) as conn:
            return conn.execute("SELECT 1 FROM pgflow.subscribers WHERE channel = %s",
                                (f"pgflow:run:{first}",)).fetchone() is not None

    await eventually_async(lambda: asyncio.to_thread(following), timeout=30)
    assert not waiting.done()
    await asyncio.to_thread(sim.drain, db_url, flow)

    run = await waiting

    assert (run.run_id, run.output) == (first, {"add_one": 7})


@pytest.mark.parametrize(("key", "ttl", "says"), [
    (42, timedelta(hours=1), "must be a str"),
    ("", timedelta(hours=1), "is empty"),
    ("k" * 201, timedelta(hours=1), "more than 200"),
    ("a\x00b", timedelta(hours=1), "NUL"),
    ("k", -5, "must be >= 0"),
    ("k", "1 day", "number of seconds or a timedelta"),
])
async def test_a_bad_key_or_ttl_is_refused_before_any_sql(api: Api, key: object, ttl: object, says: str) -> None:
    # no flow is compiled: a call that reached the database would say FlowNotFound instead
    for start in (api.start_flow, api.enqueue, api.start_flow_sync):
        with pytest.raises(pgflow.InvalidInput, match=says):
            await start("never_compiled", {}, idempotency_key=key, idempotency_ttl=ttl)


def test_two_clients_starting_with_one_key_at_once_make_one_run(db_url: str) -> None:
    flow = two_step_flow()
    with Client(db_url) as client:
        client.compile(flow)
    barrier = threading.Barrier(2)
    results: list[object] = []

    def start() -> None:
        with Client(db_url) as client:
            barrier.wait(timeout=10)
            results.append(client.start_flow(flow, {"n": 1}, idempotency_key="race"))

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(results) == 2 and results[0] == results[1]
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM pgflow.runs").fetchone() == (1,)
