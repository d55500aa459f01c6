"""``pgflow schedules ...`` as a subprocess against a test database."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import psycopg
import pytest

from tests.integration.schedules.conftest import compile_all, make_job


@pytest.fixture
def cli(db_url):
    with psycopg.connect(db_url, autocommit=True) as conn:
        compile_all(conn, make_job())
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["PGFLOW_DATABASE_URL"] = db_url

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pgflow", "schedules", *args], env=env,
                              capture_output=True, text=True, timeout=60)

    return run


def test_add_list_pause_resume_run_now_history_remove(cli):
    added = cli("add", "tick_job", "0 9 * * *", "--timezone", "Europe/Berlin", "--input", '{"type": "daily"}')
    assert added.returncode == 0, added.stderr
    assert "every day at 09:00 Europe/Berlin" in added.stdout

    listed = cli("list")
    header, row = listed.stdout.splitlines()[:2]
    assert header.split()[:4] == ["SCHEDULE", "FLOW", "STATUS", "WHEN"]
    assert row.split()[:3] == ["tick_job", "tick_job", "active"]
    # the next run in the schedule's own zone, named, next to the description in that zone
    assert re.search(r"every day at 09:00 Europe/Berlin +20\d\d-\d\d-\d\d 09:00:00 Europe/Berlin ", row), row

    assert "paused" in cli("pause", "tick_job").stdout
    [paused] = json.loads(cli("list", "--json").stdout)
    assert (paused["slug"], paused["status"], paused["next_run_at"]) == ("tick_job", "paused", None)
    assert "active" in cli("resume", "tick_job").stdout

    started = cli("run-now", "tick_job", "--json")
    run_id = json.loads(started.stdout)["run_id"]
    history = json.loads(cli("history", "tick_job", "--json").stdout)
    assert [(h["run_id"], h["trigger"]) for h in history] == [(run_id, "manual")]

    assert cli("remove", "tick_job").returncode == 0
    assert "(none)" in cli("list").stdout


def test_errors_are_one_line_and_say_what_to_do(cli):
    for args, fragment in [
        (("pause", "nope"), "no schedule named 'nope'"),
        (("add", "tick_job", "61 * * * *"), "the minute field '61'"),
        (("add", "tick_job", "@daily", "--timezone", "Europe/Berln"), "unknown time zone 'Europe/Berln'"),
        (("add", "tick_job", "@daily", "--backend", "pg_cron"), "CREATE EXTENSION pg_cron"),
    ]:
        result = cli(*args)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], result.stderr
