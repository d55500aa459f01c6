"""What a worker tells: telemetry events, health_check, and the drain helper for users' tests."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import pgflow
from pgflow import telemetry
from pgflow.testing import drain, drain_async
from tests.helpers import eventually_async
from tests.integration.worker.conftest import finished, rows, running


@pytest.fixture
def recorded():
    seen: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    telemetry.attach("test-recorder", ["worker.*", "task.*", "run.*", "poll.stop"],
                     lambda e, m, md: seen.append((e, dict(m), dict(md))))
    yield seen
    telemetry.detach("test-recorder")


async def test_telemetry_reports_worker_task_and_run_events(db_url, client, recorded):
    flow = pgflow.Flow("observed", max_attempts=1)

    @flow.step
    def ok(input):
        return 1

    @flow.step(depends_on=[ok])
    def broken(deps):
        raise KeyError("missing")

    async with running(db_url, [flow], name="observer"):
        run_id = await client.start_flow(flow, {})
        await finished(client, run_id)
        await eventually_async(lambda: _has(recorded, "run.failed"), message="run.failed is emitted")
    names = [e for e, _, _ in recorded]
    assert names[0] == "worker.start" and names[-1] == "worker.stop"
    start = next(md for e, _, md in recorded if e == "task.start" and md["step_slug"] == "ok")
    stop = next((ms, md) for e, ms, md in recorded if e == "task.stop")
    failure = next(md for e, _, md in recorded if e == "task.exception")
    assert start["run_id"] == run_id and start["attempt"] == 1 and start["flow_slug"] == "observed"
    assert stop[1]["span_id"] == start["span_id"] and stop[0]["duration"] >= 0
    assert failure["kind"] == "error" and failure["error"].startswith("KeyError: 'missing'")
    run_failed = next(md for e, _, md in recorded if e == "run.failed")
    assert run_failed["run_id"] == run_id and "KeyError" in run_failed["error_message"]
    assert any(ms.get("tasks") for e, ms, _ in recorded if e == "poll.stop")


async def _has(recorded: list[tuple[str, Any, Any]], name: str) -> bool:
    return any(e == name for e, _, _ in recorded)


async def test_run_failed_is_emitted_when_it_is_the_only_run_event_wanted(db_url, client):
    """With logging at WARNING nobody wants run.completed: the worker reads which runs ended only
    after a report that did not complete its task, and still emits run.failed."""
    failed: list[dict[str, Any]] = []
    job = pgflow.Job("fails_alone", max_attempts=1)
    job.perform(lambda input: 1 / input["d"], slug="fails_alone")
    logger = logging.getLogger("pgflow.run")
    level = logger.level
    logger.setLevel(logging.WARNING)
    telemetry.attach("test-run-failed", "run.failed", lambda e, m, md: failed.append(dict(md)))
    try:
        assert not telemetry.wants("run.completed")
        async with running(db_url, [job]):
            good = await client.start_flow(job, {"d": 1})
            bad = await client.start_flow(job, {"d": 0})
            assert (await finished(client, good)).status == "completed"
            assert (await finished(client, bad)).status == "failed"
            await eventually_async(lambda: _true(bool(failed)), message="run.failed is emitted")
    finally:
        telemetry.detach("test-run-failed")
        logger.setLevel(level)
    assert [md["run_id"] for md in failed] == [bad]
    assert "ZeroDivisionError" in failed[0]["error_message"]


async def _true(value: bool) -> bool:
    return value


def test_a_failing_telemetry_handler_is_detached_and_never_breaks_the_caller(caplog):
    def broken(event: str, measurements: dict[str, Any], metadata: dict[str, Any]) -> None:
        raise RuntimeError("handler bug")

    telemetry.attach("test-broken", "task.*", broken)
    telemetry.execute("task.stop", {"duration": 0.1}, {})
    assert "test-broken" not in telemetry.attached()
    assert "handler bug" in caplog.text


def test_the_logging_handler_is_attached_by_default_and_logs_task_failures(caplog):
    assert "pgflow.logging" in telemetry.attached()
    with caplog.at_level("WARNING", logger="pgflow.task"):
        telemetry.execute("task.exception", {"duration": 0.1}, {
            "flow_slug": "f", "step_slug": "s", "task_index": 0, "run_id": "r", "attempt": 2,
            "kind": "timeout", "error": "TaskTimeout: step 's' timed out after 3 s\nmore"})
    assert "task failed (timeout): f/s[0] run=r attempt=2: TaskTimeout: step 's' timed out after 3 s" in caplog.text
    assert "more" not in caplog.text


async def test_health_check_lists_workers_with_heartbeat_health_and_flows(db_url, client):
    a, b = pgflow.Job("health_a"), pgflow.Job("health_b")
    a.perform(lambda input: 1, slug="health_a")
    b.perform(lambda input: 1, slug="health_b")
    async with running(db_url, [a, b], name="healthy-one", heartbeat_interval=0.2) as worker:
        workers = await client.health_check()
        assert len(workers) == 1
        info = workers[0]
        assert info.name == "healthy-one" and info.health == "healthy"
        assert info.flows == ("health_a", "health_b") and set(info.worker_ids) == set(worker.worker_ids)
        assert info.tasks_in_flight == 0
        # a worker whose heartbeat stopped long ago looks stale, then dead
        await rows(db_url, "INSERT INTO pgflow.workers (worker_id, queue_name, function_name, started_at, "
                           "last_heartbeat_at) VALUES (gen_random_uuid(), 'health_a', 'ts-worker', now() - '5 min'::interval, "
                           "now() - '30 s'::interval), (gen_random_uuid(), 'health_b', 'crashed', now() - '9 min'::interval, "
                           "now() - '2 min'::interval) RETURNING 1")
        by_name = {w.name: w.health for w in await client.health_check()}
        assert by_name == {"healthy-one": "healthy", "ts-worker": "stale", "crashed": "dead"}
    assert [w.name for w in await client.health_check()] == ["ts-worker", "crashed"]
    stopped = [w for w in await client.health_check(include_stopped=True) if w.name == "healthy-one"]
    assert stopped[0].health == "dead" and stopped[0].stopped_at is not None


def test_health_check_also_works_on_the_sync_client(db_url):
    with pgflow.Client(db_url) as client:
        assert client.health_check() == []


async def test_drain_processes_every_queued_task_including_retries(db_url, client):
    flow = pgflow.Flow("drained", max_attempts=2, base_delay=1)
    failed_once: set[int] = set()

    @flow.map
    def each(item):
        if item == 3 and item not in failed_once:
            failed_once.add(item)
            raise RuntimeError("first try fails")
        return item * 10

    await client.compile(flow)
    run_ids = [await client.start_flow(flow, [1, 2, 3]) for _ in range(3)]
    result = await drain_async(client, [flow], timeout=30)
    assert result.completed == 9 and result.failed == 1
    for run_id in run_ids:
        run = await client.get_run(run_id)
        assert run.status == "completed"
    assert (await client.get_run(run_ids[0])).output == {"each": [10, 20, 30]}


def test_drain_from_sync_code(db_url):
    job = pgflow.Job("drained_sync")
    job.perform(lambda input: input["n"] * 2, slug="drained_sync")
    with pgflow.Client(db_url) as client:
        client.compile(job)
        run_id = client.start_flow(job, {"n": 21})
        result = drain(client, [job], timeout=30)
        assert result.completed == 1
        assert client.get_run(run_id).output == {"drained_sync": 42}


async def test_drain_gives_up_after_its_timeout_when_work_is_stuck(db_url, client):
    job = pgflow.Job("stuck", timeout=60)
    job.perform(lambda input: 1, slug="stuck")
    await client.compile(job)
    await client.start_flow(job, {})
    # a worker that died holding the task: started, message hidden
    await rows(db_url, "INSERT INTO pgflow.workers (worker_id, queue_name, function_name) "
                       "VALUES ('00000000-0000-0000-0000-000000000001', 'stuck', 'gone') RETURNING 1")
    await rows(db_url, "SELECT * FROM pgflow.start_tasks('stuck', ARRAY(SELECT msg_id FROM pgmq.read('stuck', 60, 1)), "
                       "'00000000-0000-0000-0000-000000000001', 'stuck')")
    with pytest.raises(pgflow.PgFlowError, match="still left after 1 s"):
        await drain_async(client, [job], timeout=1)
