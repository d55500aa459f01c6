"""``pgflow worker`` as a real process: a handler cannot stop it (a signal still does), and what
handlers raise never reaches the operator's terminal as control sequences."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pgflow
from tests.acceptance.worker.conftest import ROOT, start_worker  # noqa: F401 - the fixture
from tests.helpers import eventually

FLOWS = "tests.integration.worker.poison_flows"
CONTROLS = [chr(c) for c in (*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0))] + ["\u202e"]


def ready(worker) -> None:
    eventually(lambda: "worker ids" in worker.stdout or worker.process.poll() is not None, timeout=30,
               message="the worker prints its banner")
    assert worker.process.poll() is None, worker.stderr


def finished(client: pgflow.Client, run_id) -> pgflow.Run:
    return eventually(lambda: (run := client.get_run_with_states(run_id)).finished and run, timeout=30,
                      message=f"run {run_id} finishes")


def no_controls(text: str) -> bool:
    return not any(c in text for c in CONTROLS)


def test_a_handler_raising_system_exit_fails_its_task_and_sigterm_still_stops_the_worker(db_url, start_worker):
    worker = start_worker(f"{FLOWS}:quitter", "--shutdown-timeout", "10")
    ready(worker)
    with pgflow.Client(db_url) as client:
        quit_run = finished(client, client.enqueue("quitter", {"quit": True}))
        served = finished(client, client.enqueue("quitter", {"n": 1}))
    assert quit_run.status == "failed"
    assert quit_run.step("quitter").tasks[0].error_message.startswith("SystemExit: the handler raised SystemExit('3')")
    assert served.status == "completed" and worker.process.poll() is None
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    assert "stopped: 1 completed, 1 failed" in worker.stdout


def test_control_characters_in_handler_errors_are_escaped_by_the_worker_and_the_cli(db_url, start_worker):
    worker = start_worker(f"{FLOWS}:hostile", "--format", "human", "--error-detail", "line")
    ready(worker)
    with pgflow.Client(db_url) as client:
        run = finished(client, client.enqueue("hostile", {}))
    stored = run.step("hostile").tasks[0].error_message
    assert stored.startswith("ValueError: boom\x1b]0;pwned")  # stored as raised...
    assert "Traceback" not in stored and "File " not in stored  # ...the exception line only
    eventually(lambda: "run ok completed" in worker.stdout and "Traceback" in worker.stderr, timeout=20,
               message="the worker prints the failure and logs its traceback")
    worker.stop()
    # ...and printed escaped: no control sequence, no forged line
    for output in (worker.stdout, worker.stderr):
        assert no_controls(output), repr(output)
        assert not any(line.startswith("12:00:00 INFO run ok") for line in output.splitlines())
    assert "boom\\x1b]0;pwned\\a\\x1b[2J\\r\\n12:00:00 INFO run ok completed\\u202e\\x9b" in worker.stdout
    assert 'raise ValueError(HOSTILE)' in worker.stderr  # the traceback stays in the worker's log
    env = dict(os.environ, PGFLOW_DATABASE_URL=db_url)
    env.pop("DATABASE_URL", None)
    shown = subprocess.run([sys.executable, "-m", "pgflow", "runs", "show", str(run.run_id)], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert no_controls(shown.stdout + shown.stderr), repr(shown.stdout)
    assert "error: ValueError: boom\\x1b]0;pwned\\a\\x1b[2J\\r\\n12:00:00 INFO" in shown.stdout
