"""Worker lifecycle: registration, heartbeat, deprecation, compile on start, graceful stop, many workers."""

from __future__ import annotations

import asyncio

import pytest

import pgflow
from tests.helpers import eventually_async
from tests.integration.worker.conftest import FAST, finished, rows, running


async def test_a_worker_registers_one_row_per_queue_heartbeats_and_marks_itself_stopped(db_url):
    a, b = pgflow.Job("job_a"), pgflow.Job("job_b")
    a.perform(lambda input: 1, slug="a")
    b.perform(lambda input: 2, slug="b")
    async with running(db_url, [a, b], heartbeat_interval=0.2, name="tester") as worker:
        registered = await rows(db_url, "SELECT worker_id, queue_name, function_name, started_at, "
                                        "last_heartbeat_at, pgflow_version FROM pgflow.workers ORDER BY queue_name")
        assert [r["queue_name"] for r in registered] == ["job_a", "job_b"]
        assert {r["worker_id"] for r in registered} == set(worker.worker_ids)
        assert {r["function_name"] for r in registered} == {"tester"}
        assert {r["pgflow_version"] for r in registered} == {f"pgflow-py/{pgflow.__version__}"}
        assert len({r["started_at"] for r in registered}) == 1

        async def beaten() -> bool:
            now = await rows(db_url, "SELECT min(last_heartbeat_at) AS t FROM pgflow.workers")
            return now[0]["t"] > registered[0]["last_heartbeat_at"]

        await eventually_async(beaten, timeout=5, message="the heartbeat moves last_heartbeat_at")
        assert await rows(db_url, "SELECT function_name, start_mode, last_invoked_at FROM pgflow.worker_functions") == [
            {"function_name": "tester", "start_mode": "process", "last_invoked_at": None}]
    stopped = await rows(db_url, "SELECT count(*) AS n FROM pgflow.workers WHERE stopped_at IS NOT NULL")
    assert stopped == [{"n": 2}]


async def test_a_deprecated_worker_stops_taking_work_and_stops(db_url):
    job = pgflow.Job("deprecating")
    job.perform(lambda input: 1, slug="deprecating")
    async with running(db_url, [job], heartbeat_interval=0.2) as worker:
        await rows(db_url, "UPDATE pgflow.workers SET deprecated_at = now() RETURNING 1")
        await asyncio.wait_for(worker.wait(), 10)
        assert worker.state == "stopped"


async def test_a_flow_whose_shape_changed_refuses_to_start_naming_the_difference(db_url, client):
    old = pgflow.Flow("evolving")
    old.add_step("first", lambda input: 1)
    await client.compile(old)
    new = pgflow.Flow("evolving")
    new.add_step("first", lambda input: 1)
    new.add_step("second", lambda input: 2)
    worker = pgflow.Worker(db_url, [new], **FAST)
    with pytest.raises(pgflow.FlowShapeMismatch) as raised:
        await worker.start()
    assert "second" in str(raised.value) and "allow_data_loss" in str(raised.value)
    assert worker.state == "stopped"
    assert await rows(db_url, "SELECT count(*) AS n FROM pgflow.workers") == [{"n": 0}]


async def test_stop_lets_in_flight_tasks_finish(db_url, client):
    job = pgflow.Job("finishing")
    started = asyncio.Event()

    @job.perform
    async def handler(input):
        started.set()
        await asyncio.sleep(1.0)
        return "finished"

    worker = pgflow.Worker(db_url, [job], **FAST)
    await worker.start()
    run_id = await client.start_flow(job, {})
    await asyncio.wait_for(started.wait(), 10)
    await worker.stop()
    run = await client.get_run(run_id)
    assert run.status == "completed" and run.output == {"finishing": "finished"}
    assert worker.handed_back == 0


async def test_tasks_still_running_at_the_shutdown_timeout_are_handed_back_to_another_worker(db_url, client):
    job = pgflow.Job("handover")
    started = asyncio.Event()
    slow = {"first": True}

    @job.perform
    async def handler(input, ctx):
        if slow["first"]:
            slow["first"] = False
            started.set()
            await asyncio.sleep(60)
        return {"attempt": ctx.attempt, "worker": str(ctx.worker_id)}

    first = pgflow.Worker(db_url, [job], **{**FAST, "shutdown_timeout": 0.3})
    await first.start()
    run_id = await client.start_flow(job, {})
    await asyncio.wait_for(started.wait(), 10)
    await first.stop()
    assert first.handed_back == 1
    task = (await rows(db_url, "SELECT status, attempts_count, last_worker_id FROM pgflow.step_tasks"))[0]
    assert task == {"status": "queued", "attempts_count": 0, "last_worker_id": None}
    async with running(db_url, [job], notify_fallback_interval=30.0) as second:
        run = await finished(client, run_id, timeout=10)  # visible at once: no waiting for a timeout
    assert run.output == {"handover": {"attempt": 1, "worker": str(second.worker_ids[0])}}


async def test_three_workers_on_one_flow_complete_every_task_exactly_once(db_url, client):
    flow = pgflow.Flow("shared")

    @flow.map
    async def work(item):
        await asyncio.sleep(0.005)
        return item

    @flow.step(depends_on=[work])
    def count(deps):
        return len(deps["work"])

    workers = [pgflow.Worker(db_url, [flow], **FAST, max_concurrency=5, batch_size=5) for _ in range(3)]
    for worker in workers:
        await worker.start()
    try:
        run_ids = [await client.start_flow(flow, list(range(100))) for _ in range(3)]
        runs = [await finished(client, run_id, timeout=60) for run_id in run_ids]
    finally:
        for worker in workers:
            await worker.stop()
    assert [r.output for r in runs] == [{"count": 100}] * 3
    tasks = await rows(db_url, "SELECT status, attempts_count, last_worker_id FROM pgflow.step_tasks "
                               "WHERE step_slug = 'work'")
    assert len(tasks) == 300
    assert {(t["status"], t["attempts_count"]) for t in tasks} == {("completed", 1)}
    assert sum(w.completed for w in workers) == 303  # 300 map tasks + 3 count tasks, each reported once
    assert len({t["last_worker_id"] for t in tasks}) > 1  # the work was shared


async def test_max_concurrency_bounds_the_tasks_in_flight(db_url, client):
    flow = pgflow.Flow("bounded")
    running_now = {"n": 0, "max": 0}

    @flow.map
    async def work(item):
        running_now["n"] += 1
        running_now["max"] = max(running_now["max"], running_now["n"])
        await asyncio.sleep(0.05)
        running_now["n"] -= 1
        return item

    async with running(db_url, [flow], max_concurrency=3, batch_size=10):
        run = await finished(client, await client.start_flow(flow, list(range(20))))
    assert run.status == "completed"
    assert running_now["max"] == 3


async def test_a_worker_can_start_only_once(db_url):
    job = pgflow.Job("once")
    job.perform(lambda input: 1, slug="once")
    async with running(db_url, [job]) as worker:
        with pytest.raises(pgflow.ConfigurationError, match="starts once"):
            await worker.start()


def test_settings_are_checked_when_the_worker_is_made():
    job = pgflow.Job("checked")
    job.perform(lambda input: 1, slug="checked")
    with pytest.raises(pgflow.ConfigurationError, match="signal"):
        pgflow.Worker("postgresql:///x", [job], signal="carrier-pigeon")
    with pytest.raises(pgflow.ConfigurationError, match="max_concurrency"):
        pgflow.Worker("postgresql:///x", [job], max_concurrency=0)
    with pytest.raises(pgflow.ConfigurationError, match="report_linger"):
        pgflow.Worker("postgresql:///x", [job], report_linger=-0.1)
    with pytest.raises(pgflow.ConfigurationError, match="at least one"):
        pgflow.Worker("postgresql:///x", [])
    with pytest.raises(pgflow.ConfigurationError, match="twice"):
        pgflow.Worker("postgresql:///x", [job, job])


async def test_the_worker_uses_the_timeout_stored_in_the_database(db_url, client):
    stored = pgflow.Job("stored_options", timeout=3, max_attempts=1)
    stored.perform(lambda input: 1, slug="stored_options")
    await client.compile(stored)
    changed = pgflow.Job("stored_options", timeout=30, max_attempts=1)

    @changed.perform(slug="stored_options")
    async def handler(input):
        await asyncio.sleep(10)

    async with running(db_url, [changed]) as worker:
        assert worker.plans[("stored_options", "stored_options")].timeout == 3
        run = await finished(client, await client.start_flow(changed, {}), timeout=15)
    assert "timed out after 3 s" in run.step("stored_options").error_message


async def test_a_worker_built_from_a_client_on_the_callers_pool_connects_with_that_pool_s_settings(db_url: str) -> None:
    from psycopg_pool import AsyncConnectionPool

    asked: list[str] = []

    def conninfo() -> str:  # psycopg_pool calls it for each new connection (e.g. a fresh token)
        asked.append("conninfo")
        return db_url

    flow = pgflow.Job("pool_job")

    @flow.perform
    def work(input: dict[str, int]) -> int:
        return input["n"] + 1

    async with AsyncConnectionPool(conninfo, min_size=1, max_size=1, open=False) as pool:  # opens exactly one
        async with pgflow.AsyncClient(pool=pool) as client:
            await client.list_flows()  # the pool has opened its connections by now
            before = len(asked)
            worker = pgflow.Worker(client, [flow], **FAST)
            await worker.start()
            try:
                run = await client.start_flow(flow, {"n": 41})
                done = await finished(client, run)
            finally:
                await worker.stop()
            asked_by_worker = len(asked) - before
    assert done.output == {"pool_job": 42}
    assert asked_by_worker >= 1, "the worker did not take its connection settings from the caller's pool"
