"""``pgflow worker`` as a real subprocess: started, signalled and stopped by its PID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
FLOWS = "tests.acceptance.worker.flows"


class WorkerProcess:
    """One ``pgflow worker`` process; its output goes to files (no pipe can fill up)."""

    def __init__(self, db_url: str, log_dir: Path, name: str, *args: str) -> None:
        self.stdout_path = log_dir / f"{name}.out"
        self.stderr_path = log_dir / f"{name}.err"
        env = dict(os.environ, PGFLOW_DATABASE_URL=db_url, PYTHONUNBUFFERED="1")
        env.pop("DATABASE_URL", None)
        with open(self.stdout_path, "w") as out, open(self.stderr_path, "w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pgflow", "worker", *args, "--name", name],
                cwd=ROOT, env=env, stdout=out, stderr=err,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def signal(self, sig: signal.Signals) -> None:
        os.kill(self.pid, sig)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited in 15 s."""
        if self.process.poll() is not None:
            return
        os.kill(self.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


StartWorker = Callable[..., WorkerProcess]


@pytest.fixture
def start_worker(db_url: str, tmp_path: Path) -> Iterator[StartWorker]:
    started: list[WorkerProcess] = []

    def start(*args: str, name: str = "worker") -> WorkerProcess:
        process = WorkerProcess(db_url, tmp_path, f"{name}-{len(started)}", *args)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
