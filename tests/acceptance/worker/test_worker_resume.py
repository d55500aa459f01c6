"""Resume through the CLI with a real worker: a run fails on one item of a map after the other
items and the step before completed; the handler is fixed; `pgflow runs resume` starts a run in
which only the failed item and what follows run, and whose output equals a clean run's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pgflow
from tests.acceptance.worker.conftest import ROOT, StartWorker
from tests.acceptance.worker.test_worker_cli import ready
from tests.helpers import eventually


def _finished(db_url: str, run_id: object) -> pgflow.Run:
    with pgflow.Client(db_url) as client:
        return eventually(lambda: (run := client.get_run(run_id)).finished and run, timeout=60,
                          message=f"run {run_id} ends")


def test_resume_runs_only_the_missing_tasks_and_gives_a_clean_runs_output(
        db_url: str, start_worker: StartWorker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGFLOW_TEST_RESUME_DIR", str(tmp_path))
    calls = tmp_path / "calls.log"
    worker = start_worker("tests.acceptance.worker.resume_flows:resumable", "--concurrency", "5")
    ready(worker)
    with pgflow.Client(db_url) as client:
        failed = client.start_flow("resumable", {"n": 5})
    run = _finished(db_url, failed)
    assert run.status == "failed"
    before = calls.read_text().splitlines()
    assert sorted(before) == ["items", "square 0", "square 1", "square 2", "square 3", "square 4"]

    (tmp_path / "fixed").touch()  # the bug is fixed (the handler reads it on each call)
    env = dict(os.environ, PGFLOW_DATABASE_URL=db_url)
    env.pop("DATABASE_URL", None)
    resumed = subprocess.run([sys.executable, "-m", "pgflow", "runs", "resume", str(failed), "--json"], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    [pair] = json.loads(resumed.stdout)
    new = _finished(db_url, pair["resume_run_id"])

    assert (new.status, new.retry_of, new.retry_kind) == ("completed", failed, "resume")
    assert calls.read_text().splitlines()[len(before):] == ["square 3", "total"]  # only what was missing
    with pgflow.Client(db_url) as client:
        clean = client.start_flow_sync("resumable", {"n": 5}, timeout=60)
    assert new.output == clean.output == {"total": 0 + 1 + 4 + 9 + 16}
