"""Flow control with real ``pgflow worker`` processes: max_running holds across workers, a killed
worker's slots come back when its tasks are requeued, and a pause stops claims within a second."""

from __future__ import annotations

import signal
from datetime import datetime, timedelta
from typing import Any

import psycopg

import pgflow
from tests.acceptance.worker.conftest import start_worker  # noqa: F401 - the fixture
from tests.helpers import eventually

from .flows import PROBE_TABLE

FLOWS = "tests.acceptance.flow_control.flows"


def _probe(db_url: str, flow: str) -> dict[str, Any]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        cur = conn.execute("SELECT running, peak, started, finished FROM probe WHERE flow = %s", (flow,))
        running, peak, started, finished = cur.fetchone()
    return {"running": running, "peak": peak, "started": started, "finished": finished}


def _prepare(db_url: str, *flows: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(PROBE_TABLE)
        for flow in flows:
            conn.execute("INSERT INTO probe (flow) VALUES (%s)", (flow,))


def _db_now(db_url: str) -> datetime:
    with psycopg.connect(db_url, autocommit=True) as conn:
        now: datetime = conn.execute("SELECT clock_timestamp()").fetchone()[0]
    return now


def _reset(db_url: str, flow: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE probe SET running = 0, peak = 0, started = 0, finished = 0 WHERE flow = %s", (flow,))


def _ready(worker) -> None:
    eventually(lambda: "worker ids" in worker.stdout or worker.process.poll() is not None, timeout=60,
               message="the worker prints its banner")
    assert worker.process.poll() is None, worker.stderr


def test_max_running_3_holds_across_4_workers_of_concurrency_10_over_500_tasks(db_url, start_worker):
    _prepare(db_url, "limited")
    workers = [start_worker(f"{FLOWS}:limited", "--concurrency", "10", "--quiet", name=f"w{i}") for i in range(4)]
    for worker in workers:
        _ready(worker)
    with pgflow.Client(db_url) as client:
        run_id = client.start_flow("limited", [0.01] * 500)
        run = eventually(lambda: (r := client.get_run(run_id)).finished and r, timeout=240, interval=0.5,
                         message="the 500 tasks finish")
    assert run.status == "completed"
    seen = _probe(db_url, "limited")
    assert seen["finished"] == 500
    assert seen["peak"] == 3  # reached, never passed
    assert all(w.process.poll() is None for w in workers)


def test_a_killed_worker_holds_its_slots_only_until_its_tasks_are_requeued(db_url, start_worker):
    _prepare(db_url, "limited")
    victim = start_worker(f"{FLOWS}:limited", "--quiet", name="victim")
    _ready(victim)
    with pgflow.Client(db_url) as client:
        run_id = client.start_flow("limited", [2.0] * 3 + [0.2] * 30)
        eventually(lambda: _probe(db_url, "limited")["running"] == 3, timeout=30,
                   message="the victim runs 3 tasks")
        victim.signal(signal.SIGKILL)
        victim.wait(timeout=10)
        _reset(db_url, "limited")  # the victim's handlers died without counting themselves out
        survivor = start_worker(f"{FLOWS}:limited", "--quiet", "--recovery-interval", "1", name="survivor")
        _ready(survivor)
        # the victim's 3 tasks still count as running: the survivor starts none of the 30 others...
        assert client.get_flow_control("limited").running == 3
        assert _probe(db_url, "limited")["started"] == 0
        # ...until they are requeued (timeout 3 s + 30 s): then all 33 run there, 3 at a time
        run = eventually(lambda: (r := client.get_run(run_id)).finished and r, timeout=120, interval=0.5,
                         message="the run finishes on the survivor")
    assert run.status == "completed"
    seen = _probe(db_url, "limited")
    assert (seen["started"], seen["finished"], seen["peak"]) == (33, 33, 3)


def test_pause_stops_claims_within_a_second_and_resume_restarts_them(db_url, start_worker):
    _prepare(db_url, "pausable")
    # "small" is a canary on the same worker: its runs finishing prove the worker still claims
    worker = start_worker(f"{FLOWS}:pausable", f"{FLOWS}:small", "--quiet", "--concurrency", "2", name="w")
    _ready(worker)
    with pgflow.Client(db_url) as client:
        run_ids = [client.enqueue("pausable", {"n": n}) for n in range(300)]
        eventually(lambda: _probe(db_url, "pausable")["started"] >= 10, timeout=30, message="the jobs flow")
        paused_at = client.pause_flow("pausable", reason="incident").paused_at
        eventually(lambda: _probe(db_url, "pausable")["running"] == 0, timeout=10, message="running jobs finish")
        # the window observed: past the second the pause is allowed, then claim rounds of the
        # worker (it reads both queues each round) that start canary runs but no pausable job
        eventually(lambda: _db_now(db_url) > paused_at + timedelta(seconds=1.2), timeout=10,
                   message="a second passes on the database's clock")
        for n in range(3):
            canary = client.enqueue("small", {"n": n})
            eventually(lambda: client.get_run(canary).finished, timeout=30, message="the worker still claims")
        with psycopg.connect(db_url) as conn:
            last_start, queued = conn.execute(
                "SELECT max(started_at), count(*) FILTER (WHERE status = 'queued') FROM pgflow.step_tasks "
                "WHERE flow_slug = 'pausable'").fetchone()
        assert (last_start - paused_at).total_seconds() < 1.0
        assert queued > 0
        client.resume_flow("pausable")
        eventually(lambda: all(client.get_run(r).finished for r in run_ids[-3:]), timeout=60,
                   message="the runs finish after resume")
    eventually(lambda: _probe(db_url, "pausable")["finished"] == 300, timeout=60, message="every job ran")


def test_a_rate_limit_of_20_a_second_starts_200_in_10_seconds_across_workers(db_url, start_worker):
    workers = [start_worker(f"{FLOWS}:rated", "--quiet", name=f"r{i}") for i in range(2)]
    for worker in workers:
        _ready(worker)
    with psycopg.connect(db_url, autocommit=True) as conn:  # 400 runs, more than 10 s of work
        conn.execute("SELECT pgflow.start_flow('rated', '{}') FROM generate_series(1, 400)")

    def starts() -> tuple[Any, Any, int]:
        with psycopg.connect(db_url, autocommit=True) as conn:
            return conn.execute(
                "SELECT min(started_at), max(started_at), count(*) FILTER (WHERE started_at < "
                "(SELECT min(started_at) FROM pgflow.step_tasks WHERE flow_slug = 'rated') + interval '10 s') "
                "FROM pgflow.step_tasks WHERE flow_slug = 'rated' AND started_at IS NOT NULL").fetchone()

    first, last, in_ten_seconds = eventually(
        lambda: (s := starts())[1] is not None and (s[1] - s[0]).total_seconds() >= 10.5 and s,
        timeout=60, interval=0.5, message="the workers start tasks for more than 10 s")
    assert 190 <= in_ten_seconds <= 210, in_ten_seconds
