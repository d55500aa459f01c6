"""Signal and sleep steps end to end with real ``pgflow worker`` processes: no worker is held while
a run waits, a restart loses nothing, and the signal comes from another process (the CLI)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pgflow
from tests.acceptance.waits.flows import payment
from tests.acceptance.worker.conftest import ROOT, StartWorker
from tests.acceptance.worker.test_worker_cli import ready
from tests.helpers import eventually

FLOWS = "tests.acceptance.waits.flows"


def _step_status(client: pgflow.Client, run_id, step: str) -> str:
    run = client.get_run_with_states(run_id)
    return next(str(s.status) for s in run.step_states if s.step_slug == step)


def _run_status(client: pgflow.Client, run_id) -> str:
    return str(client.get_run(run_id).status)


def _cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PGFLOW_DATABASE_URL=db_url)
    env.pop("DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "pgflow", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def test_approval_signalled_from_another_process_after_a_worker_restart(db_url, start_worker: StartWorker):
    first = start_worker(f"{FLOWS}:approval")
    ready(first)
    with pgflow.Client(db_url) as client:
        run_id = client.start_flow("approval_flow", {"order": 42})
        eventually(lambda: _step_status(client, run_id, "approve") == "started", timeout=30,
                   message="the approval step waits")
        first.stop()
        assert first.process.returncode == 0, first.stderr

        second = start_worker(f"{FLOWS}:approval", name="second")
        ready(second)
        sent = _cli(db_url, "runs", "signal", str(run_id), "approve", "--payload", '{"by": "ann"}')
        assert sent.returncode == 0, sent.stderr
        assert sent.stdout.startswith("delivered:")

        eventually(lambda: _run_status(client, run_id) == "completed", timeout=30, message="the run completes")
        assert client.get_run(run_id).output == {"ship": {"shipped": 42, "by": "ann"}}

        again = _cli(db_url, "runs", "signal", str(run_id)[-8:], "approve", "--payload", '{"by": "bob"}')
        assert again.returncode == 3 and again.stdout.startswith("duplicate:")  # the first signal won


def test_webhook_signal_by_key(db_url, start_worker: StartWorker):
    worker = start_worker(f"{FLOWS}:payment")
    ready(worker)
    with pgflow.Client(db_url) as client:
        run_id = client.start_flow("payment_flow", {"order": "o-17"}, signal_key="o-17")
        sent = _cli(db_url, "runs", "signal", "--flow", "payment_flow", "--key", "o-17", "paid",
                    "--payload", '{"amount": 12}', "--json")
        assert sent.returncode == 0, sent.stderr
        assert json.loads(sent.stdout)["run_id"] == str(run_id)
        eventually(lambda: _run_status(client, run_id) == "completed", timeout=30, message="the run completes")
        assert client.get_run(run_id).output == {"receipt": {"amount": 12}}
        duplicate = client.signal_by_key("payment_flow", "o-17", "paid", {"amount": 99})
        assert duplicate.duplicate


def test_timed_out_signal_fails_the_run(db_url, start_worker: StartWorker):
    worker = start_worker(f"{FLOWS}:impatient")
    ready(worker)
    with pgflow.Client(db_url) as client:
        run_id = client.start_flow("impatient_flow", {})
        eventually(lambda: _run_status(client, run_id) == "failed", timeout=30, message="the signal times out")
        run = client.get_run_with_states(run_id)
        answer = next(s for s in run.step_states if s.step_slug == "answer")
        assert answer.error_message.startswith("Timed out: no signal for step 'answer' within 00:00:01")
        assert [t.attempts_count for t in answer.tasks] == [1]


def test_timed_out_signal_with_a_default_goes_on(db_url, start_worker: StartWorker):
    worker = start_worker(f"{FLOWS}:lenient")
    ready(worker)
    with pgflow.Client(db_url) as client:
        run_id = client.start_flow("lenient_flow", {})
        eventually(lambda: _run_status(client, run_id) == "completed", timeout=30, message="the default applies")
        assert client.get_run(run_id).output == {"read_answer": "no reply"}


def test_sleep_until_a_time_from_the_step_before(db_url, start_worker: StartWorker):
    worker = start_worker(f"{FLOWS}:reminder")
    ready(worker)
    at = (datetime.now(timezone.utc) + timedelta(seconds=2)).isoformat()
    with pgflow.Client(db_url) as client:
        run_id = client.start_flow("reminder_flow", {"remind_at": at})
        eventually(lambda: _step_status(client, run_id, "wait_a_bit") == "started", timeout=30,
                   message="the step sleeps")
        eventually(lambda: _run_status(client, run_id) == "completed", timeout=30, message="it wakes and reminds")
        output = client.get_run(run_id).output["remind"]
        assert output["reminded"] is True
        assert datetime.fromisoformat(output["slept_until"]) == datetime.fromisoformat(at)


def test_cli_start_with_a_signal_key_then_an_early_signal_is_kept(db_url):
    with pgflow.Client(db_url) as client:
        client.compile(payment)
    started = _cli(db_url, "start", "payment_flow", "--input", '{"order": "o-18"}', "--signal-key", "o-18")
    assert started.returncode == 0, started.stderr
    sent = _cli(db_url, "runs", "signal", "--flow", "payment_flow", "--key", "o-18", "paid", "--payload", "{")
    assert sent.returncode == 1 and "--payload is not valid JSON" in sent.stderr
    sent = _cli(db_url, "runs", "signal", "--flow", "payment_flow", "--key", "o-18", "paid", "--payload", "3")
    assert sent.returncode == 0 and sent.stdout.startswith("kept:"), sent.stderr
    assert sent.stdout.split()[5] == started.stdout.strip()  # "kept: step 'paid' of run <id> ..."
