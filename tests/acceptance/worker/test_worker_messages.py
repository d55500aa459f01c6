"""What ``pgflow worker`` says: a handed-back task is not a failure; a stored traceback is the handler's."""

from __future__ import annotations

import signal

import pgflow
from tests.acceptance.worker.conftest import FLOWS, StartWorker
from tests.acceptance.worker.test_worker_cli import query, ready, task_started
from tests.helpers import eventually


def test_a_handed_back_task_is_logged_as_handed_back_not_failed(db_url, start_worker: StartWorker):
    worker = start_worker(f"{FLOWS}:sleepy", "--shutdown-timeout", "30")
    ready(worker)
    with pgflow.Client(db_url) as client:
        client.start_flow("sleepy", {"seconds": 2.5})
        eventually(lambda: task_started(db_url, "sleepy"), timeout=20, message="the task runs")
        worker.signal(signal.SIGTERM)
        eventually(lambda: "SIGTERM" in worker.stderr, timeout=10, message="the first signal is seen")
        worker.signal(signal.SIGTERM)
        assert worker.wait(timeout=10) == 0, worker.stderr
    lines = worker.stdout.splitlines()
    assert any("event=task.handed_back" in line for line in lines), worker.stdout
    assert not any("event=task.failed" in line or "CancelledError" in line for line in lines), worker.stdout


def test_a_stored_traceback_starts_at_the_handlers_frames(db_url, start_worker: StartWorker):
    worker = start_worker(f"{FLOWS}:sleepy")
    ready(worker)
    with pgflow.Client(db_url) as client:
        client.start_flow("sleepy", {})  # no "seconds": the handler raises KeyError
    error = eventually(lambda: query(db_url, "SELECT error_message FROM pgflow.step_tasks"
                                              " WHERE error_message IS NOT NULL"), timeout=30)[0]["error_message"]
    assert error.startswith("KeyError: 'seconds'\nTraceback (most recent call last):\n"), error
    frames = [line for line in error.splitlines() if line.strip().startswith("File ")]
    assert frames and all("/pgflow/" not in f for f in frames), error  # none of the worker's own frames
    assert "flows.py" in frames[0] and "in nap" in frames[0]
