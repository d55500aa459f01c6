"""``pgflow worker`` subprocesses: the README's promise, signals, crashes, several workers at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

import pgflow
from tests.acceptance.worker.conftest import FLOWS, ROOT, StartWorker
from tests.helpers import eventually


def query(db_url: str, sql: str, params: Any = None) -> list[dict[str, Any]]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        return conn.cursor(row_factory=dict_row).execute(sql, params).fetchall()


def ready(worker: Any) -> None:
    eventually(lambda: "worker ids" in worker.stdout or worker.process.poll() is not None, timeout=30,
               message="the worker prints its banner")
    assert worker.process.poll() is None, worker.stderr


def task_started(db_url: str, flow_slug: str) -> bool:
    found = query(db_url, "SELECT 1 FROM pgflow.step_tasks WHERE flow_slug = %s AND status = 'started'", (flow_slug,))
    return bool(found)


def test_pgflow_start_wait_completes_a_three_step_flow_with_a_100_item_map(db_url, start_worker: StartWorker):
    worker = start_worker(f"{FLOWS}:pipeline", "--concurrency", "10")
    ready(worker)
    env = dict(os.environ, PGFLOW_DATABASE_URL=db_url)
    started = subprocess.run([sys.executable, "-m", "pgflow", "start", "pipeline", "--input", '{"n": 100}', "--wait",
                              "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
    assert started.returncode == 0, started.stderr
    run = json.loads(started.stdout)
    assert run["status"] == "completed"
    assert run["output"] == {"total": sum(i * i for i in range(100))}
    banner = worker.stdout
    assert "pgflow worker" in banner and "pipeline (flow, 3 steps)" in banner
    lines = [line for line in worker.stdout.splitlines() if line.startswith("ts=")]
    assert sum("event=task.completed" in line for line in lines) == 102
    assert all("flow=pipeline" in line for line in lines)


def test_sigterm_lets_the_task_in_flight_finish_then_exits(db_url, start_worker: StartWorker):
    worker = start_worker(f"{FLOWS}:sleepy", "--shutdown-timeout", "30")
    ready(worker)
    with pgflow.Client(db_url) as client:
        run_id = client.start_flow("sleepy", {"seconds": 2})
        eventually(lambda: task_started(db_url, "sleepy"), timeout=20, message="the task runs")
        worker.signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, worker.stderr
        run = client.get_run_with_states(run_id)
    assert run.status == "completed" and run.output == {"sleepy": {"slept": 2, "attempt": 1}}
    assert run.step("sleepy").tasks[0].attempts_count == 1
    assert "SIGTERM" in worker.stderr
    assert "1 completed, 0 failed, 0 handed back" in worker.stdout
    stopped = query(db_url, "SELECT stopped_at FROM pgflow.workers")
    assert stopped and stopped[0]["stopped_at"] is not None


def test_a_second_sigterm_hands_the_task_back_at_once(db_url, start_worker: StartWorker):
    worker = start_worker(f"{FLOWS}:sleepy", "--shutdown-timeout", "30")
    ready(worker)
    with pgflow.Client(db_url) as client:
        run_id = client.start_flow("sleepy", {"seconds": 2.5})
        eventually(lambda: task_started(db_url, "sleepy"), timeout=20, message="the task runs")
        worker.signal(signal.SIGTERM)
        eventually(lambda: "SIGTERM" in worker.stderr, timeout=10, message="the first signal is seen")
        worker.signal(signal.SIGTERM)
        assert worker.wait(timeout=10) == 0, worker.stderr
        task = query(db_url, "SELECT status, attempts_count FROM pgflow.step_tasks")[0]
        assert task == {"status": "queued", "attempts_count": 0}
        assert "0 completed, 0 failed, 1 handed back" in worker.stdout
        other = start_worker(f"{FLOWS}:sleepy", name="other")
        eventually(lambda: client.get_run(run_id).status == "completed", timeout=30,
                   message="another worker finishes the handed-back task")
    assert other.process.poll() is None


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_a_task_of_a_killed_worker_is_recovered_by_another_workers_sweeper(db_url, start_worker: StartWorker):
    victim = start_worker(f"{FLOWS}:sleepy", name="victim")
    ready(victim)
    with pgflow.Client(db_url) as client:
        run_id = client.start_flow("sleepy", {"seconds": 2.9, "slow_attempts": 1})
        eventually(lambda: task_started(db_url, "sleepy"), timeout=20, message="the victim runs the task")
        victim.signal(signal.SIGKILL)
        victim.wait(timeout=10)
        rescuer = start_worker(f"{FLOWS}:sleepy", "--recovery-interval", "1", name="rescuer")
        ready(rescuer)
        # requeue_stalled_tasks waits for the step timeout (3 s) + 30 s after the task started
        eventually(lambda: client.get_run(run_id).status == "completed", timeout=90, interval=0.5,
                   message="the rescuer's sweeper requeues the task and the rescuer runs it")
        run = client.get_run_with_states(run_id)
    assert run.output == {"sleepy": {"slept": 2.9, "attempt": 2}}
    task = query(db_url, "SELECT attempts_count, requeued_count, status FROM pgflow.step_tasks")[0]
    assert task == {"attempts_count": 2, "requeued_count": 1, "status": "completed"}
    assert "requeued 1 stalled task" in rescuer.stderr


def test_three_worker_processes_on_one_flow_complete_each_task_once(db_url, start_worker: StartWorker):
    workers = [start_worker(f"{FLOWS}:fanout", "--concurrency", "5", "--batch-size", "5", name=f"w{i}")
               for i in range(3)]
    for worker in workers:
        ready(worker)
    with pgflow.Client(db_url) as client:
        run_ids = [client.start_flow("fanout", list(range(100))) for _ in range(3)]
        for run_id in run_ids:
            eventually(lambda run_id=run_id: client.get_run(run_id).status == "completed", timeout=60,
                       message=f"run {run_id} completes")
        outputs = [client.get_run(run_id).output for run_id in run_ids]
    assert outputs == [{"gathered": 100}] * 3
    tasks = query(db_url, "SELECT status, attempts_count, last_worker_id FROM pgflow.step_tasks "
                          "WHERE step_slug = 'touch'")
    assert len(tasks) == 300 and {(t["status"], t["attempts_count"]) for t in tasks} == {("completed", 1)}
    completed = [line for w in workers for line in w.stdout.splitlines() if "event=task.completed" in line]
    assert len(completed) == 303
    keys = [tuple(part for part in line.split() if part.split("=")[0] in ("run", "step", "task")) for line in completed]
    assert len(set(keys)) == 303  # no task completed twice
    busy = {t["last_worker_id"] for t in tasks}
    assert len(busy) >= 2


def test_a_flow_that_does_not_match_the_database_refuses_to_start(db_url, tmp_path):
    with pgflow.Client(db_url) as client:
        other = pgflow.Flow("pipeline")
        other.add_step("something_else", lambda input: 1)
        client.compile(other)
    env = dict(os.environ, PGFLOW_DATABASE_URL=db_url)
    done = subprocess.run([sys.executable, "-m", "pgflow", "worker", f"{FLOWS}:pipeline"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "differs from the definition in code" in done.stderr and "allow-data-loss" in done.stderr


def test_make_demo_runs_a_flow_live_and_prints_its_output(db_url):
    env = dict(os.environ, PGFLOW_DATABASE_URL=db_url)
    env.pop("DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-m", "examples.demo"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for line in ("pick_destination  completed", "rate_sight        started    (6 tasks)", "6/6",
                 "build_itinerary   completed", "run               completed"):
        assert line in out, out
    output = json.loads(out.split("output:\n", 1)[1])
    assert output["build_itinerary"]["city"] == "Lisbon" and len(output["build_itinerary"]["itinerary"]) == 3
    assert query(db_url, "SELECT count(*) AS n FROM pgflow.workers WHERE stopped_at IS NULL") == [{"n": 0}]
