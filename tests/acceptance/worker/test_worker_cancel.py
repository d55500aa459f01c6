"""cancel_run while a ``pgflow worker`` process runs the run's task: the worker learns it on its
next heartbeat; an async handler gets ``asyncio.CancelledError`` after ``--cancel-grace``, a sync
handler sees ``ctx.cancelled``; nothing is reported for either, and the worker says so once."""

from __future__ import annotations

from pathlib import Path

import pgflow
from tests.acceptance.worker.conftest import FLOWS, StartWorker
from tests.acceptance.worker.test_worker_cli import ready, task_started
from tests.helpers import eventually


def _cancel_while_running(db_url: str, flow: str, marker: Path) -> pgflow.Run:
    with pgflow.Client(db_url) as client:
        run_id = client.start_flow(flow, {"seconds": 60, "file": str(marker)})
        eventually(lambda: task_started(db_url, flow), timeout=30, message="the worker starts the task")
        assert client.cancel_run(run_id, reason="test").cancelled
        eventually(marker.exists, timeout=20, message="the handler learns of the cancel")
        return client.get_run_with_states(run_id)


def test_a_long_async_handler_is_cancelled_within_the_grace_period(db_url, start_worker: StartWorker,
                                                                   tmp_path: Path) -> None:
    worker = start_worker(f"{FLOWS}:long_async", "--heartbeat-interval", "0.2", "--cancel-grace", "0.5")
    ready(worker)
    marker = tmp_path / "async.txt"

    run = _cancel_while_running(db_url, "long_async", marker)

    assert marker.read_text() == "CancelledError"
    assert (run.status, run.cancelled, run.cancel_reason) == ("failed", True, "test")
    assert [t.status for s in run.step_states for t in s.tasks] == ["cancelled"]
    eventually(lambda: "task of a cancelled run, cancelled after the grace period" in worker.stderr, timeout=10,
               message="the worker logs the ignored task")
    assert worker.stderr.count("task of a cancelled run") == 1
    assert "task.failed" not in worker.stdout and "task.completed" not in worker.stdout


def test_a_sync_handler_sees_ctx_cancelled_and_its_failure_changes_nothing(db_url, start_worker: StartWorker,
                                                                            tmp_path: Path) -> None:
    worker = start_worker(f"{FLOWS}:polling_sync", "--heartbeat-interval", "0.2", "--cancel-grace", "0.5")
    ready(worker)
    marker = tmp_path / "sync.txt"

    run = _cancel_while_running(db_url, "polling_sync", marker)

    assert marker.read_text() == "ctx.cancelled"
    eventually(lambda: "task of a cancelled run, its handler failed" in worker.stderr, timeout=10,
               message="the worker logs the ignored failure (TaskCancelled)")
    assert worker.stderr.count("task of a cancelled run") == 1
    with pgflow.Client(db_url) as client:
        after = client.get_run_with_states(run.run_id)
    assert [(t.status, t.error_message) for s in after.step_states for t in s.tasks] == [("cancelled", None)]
    assert after == run
