"""``pgflow start``, ``runs list|show``, ``enqueue`` and the error cases, as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

from tests.helpers import eventually
from tests.integration.client import sim
from tests.integration.client.conftest import two_step_flow

from .conftest import Cli, assert_one_line_error, cli_env


def test_start_prints_the_run_id_and_runs_show_draws_it(pgflow_cli: Cli, db_url: str) -> None:
    assert pgflow_cli("compile", "shopflows:shop").returncode == 0
    started = pgflow_cli("start", "shop", "--input", '{"n": 4}')
    assert started.returncode == 0, started.stderr
    run_id = uuid.UUID(started.stdout.strip())

    shown = pgflow_cli("runs", "show", str(run_id))
    assert shown.returncode == 0
    lines = shown.stdout.splitlines()
    assert lines[0].startswith(f"run {run_id}  shop  started")
    assert lines[2] == 'input   {"n":4}'
    assert lines[3].startswith("└── double  started") and lines[4].startswith("    └── add_one  created")

    detail = json.loads(pgflow_cli("runs", "show", str(run_id), "--json").stdout)
    assert detail["run_id"] == str(run_id) and detail["input"] == {"n": 4}
    assert [s["step_slug"] for s in detail["step_states"]] == ["double", "add_one"]

    listed = pgflow_cli("runs", "list", "--flow", "shop", "--status", "started")
    assert listed.returncode == 0 and str(run_id) in listed.stdout
    assert "(none)" in pgflow_cli("runs", "list", "--status", "completed").stdout
    assert [r["run_id"] for r in json.loads(pgflow_cli("runs", "list", "--json").stdout)] == [str(run_id)]


def test_start_wait_prints_the_finished_run(pgflow_cli: Cli, db_url: str, project) -> None:
    assert pgflow_cli("compile", "shopflows:shop").returncode == 0
    waiting = subprocess.Popen(
        [sys.executable, "-m", "pgflow", "start", "shop", "--input", '{"n": 5}', "--wait", "--json"],
        cwd=project, env=cli_env(db_url), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        eventually(lambda: sim.drain(db_url, two_step_flow("shop")) > 0, timeout=30, message="the run's tasks")
        out, err = waiting.communicate(timeout=30)
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait()
    assert waiting.returncode == 0, err
    run = json.loads(out)
    assert run["status"] == "completed" and run["output"] == {"add_one": 11}


def test_start_wait_prints_the_run_id_first_and_times_out_saying_how_to_follow_the_run(pgflow_cli: Cli) -> None:
    assert pgflow_cli("compile", "shopflows:shop").returncode == 0
    waited = pgflow_cli("start", "shop", "--input", '{"n": 1}', "--wait", "--timeout", "0.2")
    assert waited.returncode == 1 and "Traceback" not in waited.stderr
    started, error = waited.stderr.strip().splitlines()
    run_id = uuid.UUID(started.split()[1])
    assert started == f"run {run_id} started"
    assert error.startswith(f"error: run {run_id} did not finish within 0.2 s; it goes on")
    assert f"pgflow runs watch {run_id}" in error and "start_flow_sync" not in error


def test_enqueue_later_and_bad_times(pgflow_cli: Cli) -> None:
    assert pgflow_cli("compile", "shopflows:mailer").returncode == 0
    later = pgflow_cli("enqueue", "mailer", "--input", '{"to": "a@b.c"}', "--in", "15m")
    assert later.returncode == 0, later.stderr
    uuid.UUID(later.stdout.strip())
    at = pgflow_cli("enqueue", "mailer", "--at", "2099-01-01T09:00:00Z", "--json")
    assert json.loads(at.stdout)["scheduled_at"] == "2099-01-01T09:00:00+00:00"
    assert_one_line_error(pgflow_cli("enqueue", "mailer", "--at", "2099-01-01T09:00:00"), "no time zone")
    assert_one_line_error(pgflow_cli("enqueue", "mailer", "--at", "tomorrow"), "ISO 8601")
    assert_one_line_error(pgflow_cli("enqueue", "mailer", "--in", "soon"), "not a duration")
    assert_one_line_error(pgflow_cli("enqueue", "mailer", "--in", "5", "--at", "2099-01-01T09:00:00Z"), "not both")


def test_unknown_slug_bad_json_and_bad_run_id_are_one_line_errors(pgflow_cli: Cli) -> None:
    assert_one_line_error(pgflow_cli("start", "nope", "--input", "{}"), "'nope'")
    assert_one_line_error(pgflow_cli("start", "nope", "--input", "{n: 1}"), "--input is not valid JSON")
    assert_one_line_error(pgflow_cli("enqueue", "nope", "--in", "5"), "'nope'")
    assert_one_line_error(pgflow_cli("runs", "list", "--flow", "nope"), "'nope'")
    assert_one_line_error(pgflow_cli("runs", "show", str(uuid.uuid4())), "does not exist")
    assert_one_line_error(pgflow_cli("runs", "show", "12"), "not a run id")


def test_unreachable_database_is_one_line(pgflow_cli: Cli) -> None:
    result = pgflow_cli("flows", "list", url="postgresql://pgflow@127.0.0.1:1/nowhere?connect_timeout=2")
    assert_one_line_error(result, "cannot reach the database")


def test_prune_prints_counts_and_checks_its_arguments(pgflow_cli: Cli) -> None:
    assert pgflow_cli("compile", "shopflows:shop").returncode == 0
    pruned = pgflow_cli("prune", "--older-than", "7d")
    assert pruned.returncode == 0, pruned.stderr
    rows = dict(line.split() for line in pruned.stdout.splitlines()[1:])
    assert rows["runs"] == "0" and "step_tasks" in rows
    as_json = json.loads(pgflow_cli("prune", "--older-than", "12h", "--flow", "shop", "--batch-size", "50",
                                    "--json").stdout)
    assert as_json["runs"] == 0
    assert pgflow_cli("prune", "--older-than", "7d", "--batch-size", "0").returncode == 2
    assert_one_line_error(pgflow_cli("prune", "--older-than", "a week"), "not a duration")
    assert_one_line_error(pgflow_cli("prune", "--older-than", "7d", "--flow", "nope"), "'nope'")
