"""start_flow_sync: woken by the run's completion event, RunFailed, RunTimeout."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

import pgflow
from pgflow.client import Client
from tests.helpers import eventually, eventually_async

from . import sim
from .conftest import Api, failing_flow, two_step_flow


def drain_when_started(db_url: str, flow: Any) -> None:
    """Stand in for a worker: once the run exists, run its tasks until none is left."""
    eventually(lambda: sim.drain(db_url, flow) > 0, timeout=30, message="the run's tasks to appear")


async def test_returns_the_completed_run_with_states(api: Api, db_url: str) -> None:
    flow = two_step_flow()
    await api.compile(flow)
    worker = asyncio.create_task(asyncio.to_thread(drain_when_started, db_url, flow))
    run = await api.start_flow_sync(flow, {"n": 3}, timeout=30)
    await worker
    assert run.status == "completed" and run.output == {"add_one": 7}
    assert [(s.step_slug, s.status, s.output) for s in run.step_states] == [
        ("double", "completed", 6), ("add_one", "completed", 7),
    ]


async def test_a_failed_run_raises_run_failed_carrying_the_run(api: Api, db_url: str) -> None:
    flow = failing_flow()
    await api.compile(flow)
    worker = asyncio.create_task(asyncio.to_thread(drain_when_started, db_url, flow))
    with pytest.raises(pgflow.RunFailed, match="card declined") as caught:
        await api.start_flow_sync(flow, {}, timeout=30)
    await worker
    run = caught.value.run
    assert run.status == "failed" and run.step("explode").status == "failed"
    assert "card declined" in run.step("explode").error_message


async def test_no_worker_raises_run_timeout_and_the_run_goes_on(api: Api) -> None:
    flow = two_step_flow()
    await api.compile(flow)
    with pytest.raises(pgflow.RunTimeout, match="did not finish within 0.3 s") as caught:
        await api.start_flow_sync(flow, {"n": 1}, timeout=0.3)
    assert caught.value.run.status == "started"
    assert (await api.get_run(caught.value.run_id)).status == "started"


async def test_a_run_finished_inside_start_flow_returns_at_once(api: Api) -> None:
    flow = pgflow.Flow("empty_fanout")

    @flow.map
    def each(item):
        return item

    await api.compile(flow)
    run = await api.start_flow_sync(flow, [], timeout=30)
    assert run.status == "completed" and run.step("each").output == []


async def test_a_failing_start_leaves_no_listener_behind(api: Api) -> None:
    with pytest.raises(pgflow.FlowNotFound):
        await api.start_flow_sync("nope", {}, timeout=5)
    assert await api.list_flows() == []  # the pooled connection is still usable


class Recorder(psycopg.Connection):  # type: ignore[type-arg]
    """A real connection that logs every statement and every notification wait (instrumentation)."""

    log: list[tuple[float, str]] = []

    def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        Recorder.log.append((time.monotonic(), "query"))
        return super().execute(query, *args, **kwargs)

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        Recorder.log.append((time.monotonic(), "query"))
        return super().cursor(*args, **kwargs)

    def notifies(self, *args: Any, **kwargs: Any) -> Any:
        Recorder.log.append((time.monotonic(), "wait"))
        for notify in super().notifies(*args, **kwargs):
            Recorder.log.append((time.monotonic(), f"notify {notify.payload}"))
            yield notify


def test_woken_by_the_completion_event_not_by_polling(db_url: str) -> None:
    """The waiting call runs no statement between its start and the run's completion event,
    and returns promptly once another connection completes the run."""
    flow = two_step_flow()
    with Client(db_url) as setup:
        setup.compile(flow)
    Recorder.log = []
    outcome: dict[str, Any] = {}
    with ConnectionPool(db_url, min_size=1, max_size=1, connection_class=Recorder) as pool, Client(pool=pool) as client:
        def wait() -> None:
            outcome["run"] = client.start_flow_sync(flow, {"n": 3}, timeout=60)
            outcome["returned"] = time.monotonic()

        waiter = threading.Thread(target=wait)
        waiter.start()
        eventually(lambda: any(kind == "wait" for _, kind in Recorder.log), timeout=30, message="the waiter to LISTEN")
        waiting_since = time.monotonic()
        with psycopg.connect(db_url, autocommit=True) as conn:  # another connection completes the run
            worker_id = sim.register_worker(conn, flow.slug)
            for _ in range(2):
                [task] = eventually(lambda: sim.claim(conn, flow.slug, worker_id), timeout=30)
                sim.complete(conn, task, 6 if task["step_slug"] == "double" else 7)
            committed = time.monotonic()
        waiter.join(timeout=60)
        assert not waiter.is_alive()

    assert outcome["run"].status == "completed" and outcome["run"].output == {"add_one": 7}
    # nothing ran on the waiting connection while it waited: no polling loop
    wait_at = next(t for t, kind in Recorder.log if kind == "wait")
    completed_at = next(t for t, kind in Recorder.log if "run:completed" in kind)
    assert [kind for t, kind in Recorder.log if wait_at < t < completed_at and kind == "query"] == []
    assert completed_at >= waiting_since
    # and it returned soon after the commit, far inside its 60 s timeout
    assert outcome["returned"] - committed < 15


async def test_async_woken_by_the_completion_event(db_url: str) -> None:
    flow = two_step_flow()
    async with pgflow.AsyncClient(db_url) as client:
        await client.compile(flow)
        waiting = asyncio.create_task(client.start_flow_sync(flow, {"n": 1}, timeout=60))
        await eventually_async(lambda: client.list_runs(flow), timeout=30)
        await asyncio.to_thread(drain_when_started, db_url, flow)
        run = await asyncio.wait_for(waiting, timeout=30)
    assert run.status == "completed" and run.output == {"add_one": 3}
