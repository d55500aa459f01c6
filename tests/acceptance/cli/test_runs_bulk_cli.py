"""``pgflow runs cancel|retry|resume`` by filters (the filters of ``runs list``): --dry-run lists,
a prompt confirms (--yes skips it; no terminal and no --yes: refused), exit codes 0 / 3 / 4 / 1 / 2;
``start`` and ``enqueue --idempotency-key``."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

from .conftest import Cli, cli_env


def _start(pgflow_cli: Cli, n: int, *more: str) -> uuid.UUID:
    return uuid.UUID(pgflow_cli("start", "shop", "--input", json.dumps({"n": n}), *more).stdout.strip())


def _no_tty(db_url: str, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The command with stdin not a terminal (as in a script or a CI job)."""
    return subprocess.run([sys.executable, "-m", "pgflow", *args], cwd=project, env=cli_env(db_url),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)


def _status(pgflow_cli: Cli, run_id: uuid.UUID) -> str:
    return json.loads(pgflow_cli("runs", "show", str(run_id), "--json").stdout)["status"]


def test_bulk_cancel_dry_run_then_refused_without_a_terminal_then_done_with_yes(
        pgflow_cli: Cli, db_url: str, project: Path) -> None:
    assert pgflow_cli("compile", "shopflows:shop").returncode == 0
    ones = [_start(pgflow_cli, 1), _start(pgflow_cli, 1)]
    two = _start(pgflow_cli, 2)
    filters = ("--flow", "shop", "--input-match", '{"n": 1}', "--since", "1h")

    dry = pgflow_cli("runs", "cancel", *filters, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert set(dry.stdout.split()) == {str(r) for r in ones} and "2 runs would be cancelled" in dry.stderr

    refused = _no_tty(db_url, project, "runs", "cancel", *filters, "--reason", "bulk")
    assert refused.returncode == 1
    assert "refusing to cancel 2 runs without confirmation" in refused.stderr and "--yes" in refused.stderr
    assert {_status(pgflow_cli, r) for r in ones} == {"started"}

    done = _no_tty(db_url, project, "runs", "cancel", *filters, "--reason", "bulk", "--yes")
    assert done.returncode == 0, done.stderr
    assert set(done.stdout.split()) == {str(r) for r in ones} and "cancelled 2 runs" in done.stderr
    assert {_status(pgflow_cli, r) for r in ones} == {"failed"} and _status(pgflow_cli, two) == "started"

    again = _no_tty(db_url, project, "runs", "cancel", *filters, "--yes")
    assert again.returncode == 4 and "nothing to cancel: no run matches the filters" in again.stderr


def test_bulk_retry_and_resume_print_original_and_new_and_skip_runs_already_started_again(
        pgflow_cli: Cli, db_url: str, project: Path) -> None:
    assert pgflow_cli("compile", "shopflows:shop").returncode == 0
    runs = [_start(pgflow_cli, n) for n in (1, 2)]
    assert pgflow_cli("runs", "cancel", *map(str, runs)).returncode == 0

    retried = _no_tty(db_url, project, "runs", "retry", "--flow", "shop", "--status", "failed", "--yes", "--json")
    assert retried.returncode == 0, retried.stderr
    found = json.loads(retried.stdout)
    assert set(found["run_ids"]) == {str(r) for r in runs} and len(found["new_run_ids"]) == 2
    shown = pgflow_cli("runs", "show", str(runs[0]))
    assert "started again as" in shown.stdout

    nothing = _no_tty(db_url, project, "runs", "resume", "--flow", "shop", "--status", "failed", "--yes")
    assert nothing.returncode == 4  # both originals were retried; the retries are still going
    resumed = _no_tty(db_url, project, "runs", "resume", "--flow", "shop", "--again", "--limit", "1", "--yes")
    assert resumed.returncode == 0, resumed.stderr
    [(original, new)] = [line.split("  ") for line in resumed.stdout.splitlines()]
    assert f"resume of {original}" in pgflow_cli("runs", "show", new).stdout


def test_ids_and_filters_together_or_neither_is_a_usage_error(pgflow_cli: Cli) -> None:
    assert pgflow_cli("compile", "shopflows:shop").returncode == 0
    run_id = _start(pgflow_cli, 1)
    for command in ("cancel", "retry", "resume"):
        both = pgflow_cli("runs", command, str(run_id), "--flow", "shop")
        neither = pgflow_cli("runs", command)
        assert (both.returncode, neither.returncode) == (2, 2), command
        assert "not both" in both.stderr and "filters that choose them" in neither.stderr
    assert pgflow_cli("runs", "cancel", "--flow", "nope", "--yes").returncode == 1  # unknown flow
    assert _status(pgflow_cli, run_id) == "started"


def test_runs_list_takes_the_same_filters(pgflow_cli: Cli) -> None:
    assert pgflow_cli("compile", "shopflows:shop").returncode == 0
    one, _ = _start(pgflow_cli, 1), _start(pgflow_cli, 2)

    listed = json.loads(pgflow_cli("runs", "list", "--input-match", '{"n": 1}', "--since", "1h", "--json").stdout)

    assert [r["run_id"] for r in listed] == [str(one)]
    bad = pgflow_cli("runs", "list", "--since", "yesterday")
    assert bad.returncode == 1 and "neither a duration" in bad.stderr


def test_start_and_enqueue_with_an_idempotency_key_return_the_keys_run(pgflow_cli: Cli) -> None:
    assert pgflow_cli("compile", "shopflows:shop", "shopflows:mailer").returncode == 0

    first = _start(pgflow_cli, 1, "--idempotency-key", "order-42")
    second = _start(pgflow_cli, 5, "--idempotency-key", "order-42", "--idempotency-ttl", "forever")
    job = pgflow_cli("enqueue", "mailer", "--idempotency-key", "mail-1", "--idempotency-ttl", "1h").stdout.strip()
    job_again = pgflow_cli("enqueue", "mailer", "--idempotency-key", "mail-1").stdout.strip()

    assert first == second and job == job_again
    shown = json.loads(pgflow_cli("runs", "show", job, "--json").stdout)
    assert (shown["idempotency_key"], shown["idempotency_ttl"]) == ("mail-1", 3600.0)
    lone = pgflow_cli("start", "shop", "--idempotency-ttl", "1h")
    assert lone.returncode == 1 and "--idempotency-ttl needs --idempotency-key" in lone.stderr
