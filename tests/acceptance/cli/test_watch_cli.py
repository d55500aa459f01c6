"""``pgflow start --wait`` and ``pgflow runs watch``: the run id first, progress, Ctrl-C leaves the run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from tests.helpers import eventually
from tests.integration.client import sim
from tests.integration.client.conftest import two_step_flow

from .conftest import Cli, cli_env


def popen(project: Path, db_url: str, *args: str, stderr_path: Path) -> subprocess.Popen[str]:
    with open(stderr_path, "w") as err:
        return subprocess.Popen([sys.executable, "-m", "pgflow", *args], cwd=project, env=cli_env(db_url),
                                stdout=subprocess.PIPE, stderr=err, text=True)


def run_id_on(stderr_path: Path) -> uuid.UUID:
    line = eventually(lambda: next((li for li in stderr_path.read_text().splitlines() if li.startswith("run ")), None),
                      timeout=30, message="the run id is printed first")
    return uuid.UUID(line.split()[1])


def test_ctrl_c_while_waiting_says_the_run_goes_on_and_how_to_follow_it(pgflow_cli: Cli, db_url: str,
                                                                         project: Path, tmp_path: Path) -> None:
    assert pgflow_cli("compile", "shopflows:shop").returncode == 0
    err = tmp_path / "start.err"
    waiting = popen(project, db_url, "start", "shop", "--input", '{"n": 1}', "--wait", stderr_path=err)
    try:
        run_id = run_id_on(err)
        waiting.send_signal(signal.SIGINT)
        waiting.communicate(timeout=30)
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait()
    assert waiting.returncode == 130
    message = err.read_text()
    assert f"run {run_id} goes on" in message and f"pgflow runs watch {run_id}" in message
    assert "Traceback" not in message
    assert json.loads(pgflow_cli("runs", "show", str(run_id), "--json").stdout)["status"] == "started"


def test_start_wait_shows_progress_and_runs_watch_follows_a_run_to_its_end(pgflow_cli: Cli, db_url: str,
                                                                           project: Path, tmp_path: Path) -> None:
    assert pgflow_cli("compile", "shopflows:shop").returncode == 0
    err, watch_err = tmp_path / "start.err", tmp_path / "watch.err"
    waiting = popen(project, db_url, "start", "shop", "--input", '{"n": 5}', "--wait", "--progress",
                    stderr_path=err)
    watching = None
    try:
        run_id = run_id_on(err)
        watching = popen(project, db_url, "runs", "watch", str(run_id)[-8:], "--json", stderr_path=watch_err)
        assert run_id_on(watch_err) == run_id
        eventually(lambda: sim.drain(db_url, two_step_flow("shop")) > 0, timeout=30, message="the run's tasks")
        out, _ = waiting.communicate(timeout=30)
        watched, _ = watching.communicate(timeout=30)
    finally:
        for process in (waiting, watching):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
    assert waiting.returncode == 0, err.read_text()
    assert out.startswith(f"run {run_id}  shop  completed")
    progress = err.read_text()
    assert "double" in progress and "add_one" in progress and "run" in progress.splitlines()[-1]
    assert watching.returncode == 0 and json.loads(watched)["output"] == {"add_one": 11}
    again = pgflow_cli("runs", "watch", str(run_id))  # a finished run: shown at once
    assert again.returncode == 0 and again.stdout.startswith(f"run {run_id}  shop  completed")
