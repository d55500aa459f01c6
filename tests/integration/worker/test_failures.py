"""Failures: retries with backoff, exhausted retries, enforced timeouts, error texts."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import psycopg

import pgflow
from pgflow import events
from tests.helpers import eventually_async
from tests.integration.worker.conftest import finished, rows, running


async def test_a_failing_task_is_retried_after_its_backoff_and_then_succeeds(db_url, client):
    job = pgflow.Job("flaky", max_attempts=3, base_delay=1)
    calls: list[int] = []

    @job.perform
    def handler(input, ctx):
        calls.append(ctx.attempt)
        if ctx.attempt < 3:
            raise ConnectionError(f"upstream down (attempt {ctx.attempt})")
        return {"ok": ctx.attempt}

    seen: list[events.Event] = []
    run_id = uuid.uuid4()
    async with running(db_url, [job], notify_fallback_interval=30.0):
        async with client.subscribe(run_id) as subscription:  # listening before the run starts
            await client.start_flow(job, {}, run_id=run_id)

            async def collect() -> None:
                async for event in subscription:  # ends after run:completed / run:failed
                    seen.append(event)

            await asyncio.wait_for(collect(), 20)
    run = await client.get_run_with_states(run_id)
    assert run.status == "completed" and run.output == {"flaky": {"ok": 3}}
    assert calls == [1, 2, 3]
    task = run.step("flaky").tasks[0]
    assert task.attempts_count == 3
    failures = [e for e in seen if isinstance(e, events.TaskFailedEvent)]
    starts = [e for e in seen if isinstance(e, events.TaskStartedEvent)]
    assert [f.will_retry for f in failures] == [True, True]
    assert "ConnectionError: upstream down (attempt 1)" in failures[0].error_message
    # each retry started no earlier than the backoff allowed (floor(1 * 2^attempt) s); started_at
    # is its claim's transaction time, a few ms before the read that saw the message visible
    for failure, retry in zip(failures, starts[1:]):
        assert events._ts(retry.raw["started_at"]) >= failure.retry_at - timedelta(milliseconds=100)


async def test_exhausted_retries_fail_the_run_with_the_error_and_a_traceback(db_url, client):
    flow = pgflow.Flow("doomed", max_attempts=2, base_delay=1)

    @flow.step
    def fine(input):
        return 1

    @flow.step(depends_on=[fine])
    def explode(deps):
        raise ValueError("the answer is not 41")

    async with running(db_url, [flow]):
        run = await finished(client, await client.start_flow(flow, {}), timeout=20)
    assert run.status == "failed"
    state = run.step("explode")
    assert state.status == "failed"
    assert state.error_message.startswith("ValueError: the answer is not 41")
    assert "Traceback" in state.error_message and "in explode" in state.error_message
    assert state.tasks[0].attempts_count == 2


async def test_an_async_handler_past_its_timeout_is_cancelled_and_the_task_failed(db_url, client):
    job = pgflow.Job("slow_async", max_attempts=1, timeout=3)
    cancelled = asyncio.Event()

    @job.perform
    async def handler(input):
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async with running(db_url, [job]):
        started = time.monotonic()
        run = await finished(client, await client.start_flow(job, {}), timeout=20)
        elapsed = time.monotonic() - started
    assert run.status == "failed"
    assert "timed out after 3 s" in run.step("slow_async").error_message
    assert cancelled.is_set()
    assert elapsed < 20  # far from the handler's 30 s: it was stopped


async def test_a_sync_handler_past_its_timeout_is_abandoned_and_the_task_failed(db_url, client):
    job = pgflow.Job("slow_sync", max_attempts=1, timeout=3)
    @job.perform
    def handler(input):
        time.sleep(6)
        return "too late"

    async with running(db_url, [job], shutdown_timeout=0.5):
        run = await finished(client, await client.start_flow(job, {}), timeout=20)
    assert run.status == "failed"
    assert "timed out after 3 s" in run.step("slow_sync").error_message
    # the late result is never reported
    assert (await rows(db_url, "SELECT status FROM pgflow.step_tasks"))[0]["status"] == "failed"


async def test_when_exhausted_skip_lets_the_run_complete_without_the_step(db_url, client):
    flow = pgflow.Flow("optional", max_attempts=1)

    @flow.step
    def main_work(input):
        return "done"

    @flow.step(when_exhausted="skip")
    def nice_to_have(input):
        raise RuntimeError("enrichment service is down")

    async with running(db_url, [flow]):
        run = await finished(client, await client.start_flow(flow, {}))
    assert run.status == "completed"
    assert run.output == {"main_work": "done"}
    assert run.step("nice_to_have").skip_reason == "handler_failed"


async def test_an_outcome_the_database_rejects_does_not_hold_back_the_others(db_url, client, caplog):
    flow = pgflow.Flow("poisoned", max_attempts=2, base_delay=1)  # its retry comes after the others

    arrived: list[str] = []
    all_here = asyncio.Event()

    @flow.map
    async def each(item):
        arrived.append(item)
        if len(arrived) == 4:
            all_here.set()
        await asyncio.wait_for(all_here.wait(), 10)  # all four finish together: one report
        return item

    await client.compile(flow)
    # an unexpected database error for one output only (e.g. a constraint added by an operator)
    await rows(db_url, """
        CREATE FUNCTION public.reject_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.output = '"poison"'::jsonb THEN RAISE EXCEPTION 'poison rejected'; END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER reject_poison BEFORE UPDATE ON pgflow.step_tasks
            FOR EACH ROW EXECUTE FUNCTION public.reject_poison();
        SELECT 1""")
    async with running(db_url, [flow], max_concurrency=4, batch_size=4):
        run_id = await client.start_flow(flow, ["a", "poison", "b", "c"])

        async def others_done() -> bool:
            done = await rows(db_url, "SELECT task_index FROM pgflow.step_tasks WHERE status = 'completed' "
                                      "ORDER BY task_index")
            return [r["task_index"] for r in done] == [0, 2, 3]

        await eventually_async(others_done, timeout=15, message="the three good outcomes are reported")
        run = await finished(client, run_id, timeout=20)
    # the refused one fails with why (rather than being left to stall, run again and refused again)
    assert run.status == "failed"
    refused = run.step("each").tasks[1]
    assert refused.status == "failed" and refused.error_message.startswith("ReportRefused: ")
    assert refused.attempts_count == 2
    assert "poison rejected" in refused.error_message
    assert "reporting them one by one" in caplog.text
    assert "refused the completion of task poisoned/each[1]" in caplog.text and "poison rejected" in caplog.text


async def test_the_sweep_forgets_the_subscriptions_of_killed_sessions(db_url, client):
    job = pgflow.Job("swept")

    @job.perform
    def handler(input, ctx):
        return None

    # a dashboard that follows every event, then dies without unsubscribing
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as doomed:
        await doomed.execute("SELECT pgflow.subscribe('pgflow:events')")
        pid = doomed.info.backend_pid
        await rows(db_url, "SELECT pg_terminate_backend(%s)", (pid,))
    assert await rows(db_url, "SELECT pid FROM pgflow.subscribers") == [{"pid": pid}]

    async with running(db_url, [job], recovery_interval=0.2):
        async def forgotten() -> bool:
            return await rows(db_url, "SELECT pid FROM pgflow.subscribers") == []

        await eventually_async(forgotten, timeout=10, message="the sweep removes the dead session's subscription")
