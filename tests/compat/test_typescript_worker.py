"""A pgflow 0.17.1 TypeScript worker and pgflow-py share one database.

The TypeScript side is its exact SQL call sequence (``TsWorkerSql``): compile with the
four-argument ``ensure_flow_compiled`` and refuse a mismatch, ``track_worker_function(name,
'process')``, the worker row with ``pgflow_version``, ``pgmq.read_with_poll`` on the queue name,
the five-argument ``start_tasks``, ``complete_task`` / ``fail_task``, the heartbeat UPDATE and
``mark_worker_stopped``. Runs started by ``pgflow.Client`` are processed by it; runs started with
plain ``pgflow.start_flow`` (as the TypeScript client does) are processed by a Python worker; both
for flows with one queue and for flows with private step queues.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

import pgflow
from tests.compat import flows
from tests.compat.ts_worker import Handler, TsWorkerSql, WorkerStartupError, work
from tests.integration.worker.conftest import finished, running

FlowFactory = Callable[..., tuple[pgflow.Flow, dict[str, Handler]]]


@pytest.fixture
def ts_conn(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    """The TypeScript worker's connection (postgres.js sends each statement on its own)."""
    with psycopg.connect(db_url, autocommit=True) as c:
        yield c


@pytest.fixture
def client(db_url: str) -> Iterator[pgflow.Client]:
    with pgflow.Client(db_url) as c:
        yield c


def route_map(flow: pgflow.Flow) -> list[dict[str, str]]:
    """The routes a withStepQueues() flow sends: each step's queue lower(flow__step)."""
    return [{"stepSlug": s.slug, "queueName": f"{flow.slug}__{s.slug}".lower()} for s in flow.steps]


def ts_workers(ts_conn: psycopg.Connection[Any], flow: pgflow.Flow, step_queues: bool) -> list[TsWorkerSql]:
    """Started TypeScript workers for ``flow``: one, or one per step with private step queues."""
    if step_queues:
        routes = route_map(flow)
        workers = [TsWorkerSql(ts_conn, flow.slug, flow.shape(), step_slug=s.slug, queue_mode="step",
                               route_map=routes, function_name=f"ts-{s.slug}") for s in flow.steps]
    else:
        workers = [TsWorkerSql(ts_conn, flow.slug, flow.shape())]
    for worker in workers:
        assert worker.start()["status"] in ("compiled", "verified")
    return workers


def task_rows(ts_conn: psycopg.Connection[Any], run_id: UUID) -> dict[tuple[str, int], dict[str, Any]]:
    with ts_conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT * FROM pgflow.step_tasks WHERE run_id = %s", (run_id,))
        return {(r["step_slug"], r["task_index"]): r for r in cur.fetchall()}


def run_is_over(client: pgflow.Client, run_id: UUID) -> Callable[[], bool]:
    return lambda: client.get_run(run_id).finished


MODES = [pytest.param(False, id="flow-queue"), pytest.param(True, id="step-queues")]


# ---------------------------------------------------------------------- started from Python


@pytest.mark.parametrize("step_queues", MODES)
@pytest.mark.parametrize("factory, flow_input, output", [
    pytest.param(flows.root_flow, {"name": "Ada"}, {"greet": {"hello": "Ada"}}, id="root-step"),
    pytest.param(flows.parallel_flow, {"n": 3}, {"d": 67}, id="parallel-branches"),
    pytest.param(flows.map_flow, [1, 2, 3], {"total": 14}, id="map"),
])
def test_a_run_started_from_python_completes_on_the_typescript_worker(
        ts_conn, client, factory: FlowFactory, flow_input: Any, output: Any, step_queues: bool) -> None:
    flow, handlers = factory("TsShared", step_queues=step_queues)
    workers = ts_workers(ts_conn, flow, step_queues)

    run_id = client.start_flow(flow, flow_input)
    work(workers, handlers, run_is_over(client, run_id))

    run = client.get_run_with_states(run_id)
    assert run.status == "completed" and run.output == output
    assert {t["status"] for t in task_rows(ts_conn, run_id).values()} == {"completed"}
    queues = {w.queue_name for w in workers}
    assert queues == ({r["queueName"] for r in route_map(flow)} if step_queues else {"tsshared"})
    with ts_conn.cursor(row_factory=dict_row) as cur:
        ts_conn.execute("UPDATE pgflow.workers SET deprecated_at = clock_timestamp() WHERE worker_id = %s",
                        (workers[0].worker_id,))  # what a redeploy does to the old workers
        assert [w.heartbeat() for w in workers] == [True] + [False] * (len(workers) - 1)
        for worker in workers:
            worker.stop()
        registered = cur.execute("SELECT * FROM pgflow.workers ORDER BY started_at").fetchall()
    assert {(r["queue_name"], r["pgflow_version"]) for r in registered} == {(q, "0.17.1") for q in queues}
    assert all(r["stopped_at"] is not None for r in registered)
    with ts_conn.cursor(row_factory=dict_row) as cur:
        functions = cur.execute("SELECT function_name, start_mode FROM pgflow.worker_functions").fetchall()
    assert {(f["function_name"], f["start_mode"]) for f in functions} == {(w.function_name, "process") for w in workers}


@pytest.mark.parametrize("step_queues", MODES)
def test_a_step_whose_condition_is_unmet_is_skipped(ts_conn, client, step_queues: bool) -> None:
    flow, handlers = flows.condition_flow("ts_cond", step_queues=step_queues)
    workers = ts_workers(ts_conn, flow, step_queues)

    run_id = client.start_flow(flow, {"n": 5, "vip": False})
    work(workers, handlers, run_is_over(client, run_id))

    run = client.get_run_with_states(run_id)
    assert run.status == "completed" and run.output == {"summary": {"base": 5, "vip": None}}
    assert {s.step_slug: s.status for s in run.step_states}["vip"] == "skipped"
    assert ("vip", 0) not in task_rows(ts_conn, run_id)


@pytest.mark.parametrize("step_queues", MODES)
def test_a_step_skipped_after_its_failure_skips_its_tasks_in_flight(ts_conn, client, step_queues: bool) -> None:
    flow, handlers = flows.skip_on_failure_flow("ts_skip", step_queues=step_queues)
    workers = ts_workers(ts_conn, flow, step_queues)
    run_id = client.start_flow(flow, [1, 2, 3])
    probes = workers[0].poll()
    assert len(probes) == 3

    # the failing task is reported first; its siblings were in flight and report late
    workers[0].handle(sorted(probes, key=lambda t: t["task_index"] != 1), handlers)
    work(workers, handlers, run_is_over(client, run_id))

    run = client.get_run_with_states(run_id)
    assert run.status == "completed" and run.output == {"report": {"probe": None}}
    assert {s.step_slug: s.status for s in run.step_states}["probe"] == "skipped"
    tasks = task_rows(ts_conn, run_id)
    assert [tasks[("probe", i)]["status"] for i in range(3)] == ["skipped", "failed", "skipped"]


@pytest.mark.parametrize("step_queues", MODES)
def test_a_failing_task_fails_the_run_and_cancels_the_other_tasks(ts_conn, client, step_queues: bool) -> None:
    flow, handlers = flows.failing_flow("ts_fail", step_queues=step_queues)
    workers = ts_workers(ts_conn, flow, step_queues)
    run_id = client.start_flow(flow, [1, 2, 3])

    claimed = [task for worker in workers for task in worker.poll()]
    assert len(claimed) == 4
    by_worker = {w.queue_name: w for w in workers}

    def worker_of(task: dict[str, Any]) -> TsWorkerSql:
        return by_worker[f"ts_fail__{task['step_slug']}"] if step_queues else workers[0]

    # the failing task is reported first; the others were in flight and report late
    in_flight = sorted(claimed, key=lambda t: (t["step_slug"], t["task_index"]) != ("charge", 1))
    for task in in_flight:
        worker_of(task).handle([task], handlers)

    run = client.get_run_with_states(run_id)
    assert run.status == "failed" and run.output is None
    tasks = task_rows(ts_conn, run_id)
    assert tasks[("charge", 1)]["status"] == "failed"
    assert "card declined: 2" in tasks[("charge", 1)]["error_message"]
    assert {k: t["status"] for k, t in tasks.items() if k != ("charge", 1)} == {
        ("charge", 0): "cancelled", ("charge", 2): "cancelled", ("audit", 0): "cancelled"}
    assert all(t["output"] is None for t in tasks.values())  # the late reports changed nothing
    for worker in workers:  # nothing left to claim
        assert worker.poll(max_poll_seconds=0) == []


@pytest.mark.parametrize("step_queues", MODES)
def test_reports_for_a_cancelled_run_are_ignored_as_for_a_failed_run(ts_conn, client, step_queues: bool) -> None:
    flow, handlers = flows.failing_flow("ts_cancel", step_queues=step_queues)
    workers = ts_workers(ts_conn, flow, step_queues)
    run_id = client.start_flow(flow, [1, 2, 3])
    claimed = [(worker, task) for worker in workers for task in worker.poll()]
    assert len(claimed) == 4

    ts_conn.execute("SELECT pgflow.cancel_run(%s, 'operator stop')", (run_id,))
    before = task_rows(ts_conn, run_id)
    for worker, task in claimed:  # in flight when the run was cancelled: each reports late
        worker.complete(task, {"late": True})
        worker.fail(task, "late failure")

    run = client.get_run_with_states(run_id)
    assert (run.status, run.output) == ("failed", None)
    assert task_rows(ts_conn, run_id) == before
    assert {t["status"] for t in before.values()} == {"cancelled"}
    for worker in workers:  # nothing left to claim
        assert worker.poll(max_poll_seconds=0) == []


def test_a_flow_compiled_differently_stops_the_typescript_worker(ts_conn, client) -> None:
    flow, _ = flows.root_flow("ts_drift")
    client.compile(flow)
    other, _ = flows.parallel_flow("ts_drift")

    with pytest.raises(WorkerStartupError, match="shape"):
        TsWorkerSql(ts_conn, other.slug, other.shape()).start()

    with ts_conn.cursor() as cur:  # a refused worker registers nothing
        assert cur.execute("SELECT count(*) FROM pgflow.workers").fetchone() == (0,)


# ---------------------------------------------------------------------- started as the TS client does


def start_flow_sql(ts_conn: psycopg.Connection[Any], slug: str, flow_input: Any) -> UUID:
    row = ts_conn.execute("SELECT run_id FROM pgflow.start_flow(flow_slug => %s::text, input => %s::jsonb)",
                       (slug, Jsonb(flow_input))).fetchone()
    assert row is not None
    run_id: UUID = row[0]
    return run_id


@pytest.mark.parametrize("step_queues", MODES)
@pytest.mark.parametrize("factory, flow_input, status, output", [
    pytest.param(flows.parallel_flow, {"n": 3}, "completed", {"d": 67}, id="parallel-branches"),
    pytest.param(flows.map_flow, [1, 2, 3], "completed", {"total": 14}, id="map"),
    pytest.param(flows.condition_flow, {"n": 1}, "completed", {"summary": {"base": 1, "vip": None}}, id="skipped"),
    pytest.param(flows.failing_flow, [1, 2, 3], "failed", None, id="failing"),
])
async def test_a_run_started_by_sql_completes_on_a_python_worker(
        db_url, ts_conn, factory: FlowFactory, flow_input: Any, status: str, output: Any, step_queues: bool) -> None:
    flow, _ = factory("py_serves", step_queues=step_queues)
    async with pgflow.AsyncClient(db_url) as aclient:
        async with running(db_url, [flow]):
            run_id = start_flow_sql(ts_conn, flow.slug, flow_input)
            run = await finished(aclient, run_id)

    assert run.status == status and run.output == output
    tasks = task_rows(ts_conn, run_id)
    assert all(t["status"] not in ("queued", "started") for t in tasks.values())
    if step_queues:
        assert {t["queue_name"] for t in tasks.values()} <= {r["queueName"] for r in route_map(flow)}
    else:
        assert {t["queue_name"] for t in tasks.values()} == {"py_serves"}
