"""``pgflow worker`` whose database cannot be reached: a stop request ends its start-up at once."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from tests.acceptance.worker.conftest import FLOWS, WorkerProcess
from tests.helpers import eventually

# nothing listens on port 1: every connection attempt is refused, and the worker keeps retrying
UNREACHABLE = "postgresql://pgflow@127.0.0.1:1/nowhere"


@pytest.fixture
def unreachable_worker(tmp_path: Path):
    worker = WorkerProcess(UNREACHABLE, tmp_path, "unreachable", f"{FLOWS}:sleepy")
    yield worker
    if worker.process.poll() is None:  # the fix failed: do not leave it behind
        worker.process.kill()
        worker.process.wait(timeout=5)


def retrying(worker: WorkerProcess) -> None:
    eventually(lambda: "database unreachable" in worker.stderr, timeout=30,
               message="the worker reports that it retries its start-up")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_one_signal_stops_a_worker_that_is_still_starting(unreachable_worker: WorkerProcess, sig):
    retrying(unreachable_worker)
    unreachable_worker.signal(sig)
    # start-up calls retry for up to 60 s; the stop request must cut them short
    try:
        code = unreachable_worker.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("the worker ignored the stop request while it could not reach the database")
    assert code == 0, unreachable_worker.stderr
    assert "stopped before the worker started" in unreachable_worker.stderr
    assert "Traceback" not in unreachable_worker.stderr
