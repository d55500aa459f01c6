"""``pgflow db server status|start|stop``: the embedded PostgreSQL can be seen, started and stopped."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg

from tests.acceptance.cli.test_db_url_cli import embedded_env, pgdata  # noqa: F401 - the fixture


def server(pgdata: Path, *args: str) -> subprocess.CompletedProcess[str]:  # noqa: F811
    return subprocess.run([sys.executable, "-m", "pgflow", "db", "server", *args], env=embedded_env(pgdata),
                          capture_output=True, text=True, timeout=120)


def test_the_embedded_server_is_started_shown_and_stopped(pgdata: Path) -> None:  # noqa: F811
    before = server(pgdata, "status")
    assert before.returncode == 0, before.stderr
    assert before.stdout.startswith("embedded PostgreSQL: stopped") and "not created yet" in before.stdout

    started = server(pgdata, "start")
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("pgflow",)

    status = json.loads(server(pgdata, "status", "--json").stdout)
    assert status["running"] and status["url"] == url and status["data_dir"] == str(pgdata)
    assert "running (pid" in server(pgdata, "status").stdout

    stopped = server(pgdata, "stop")
    assert stopped.returncode == 0 and stopped.stdout.startswith("embedded PostgreSQL stopped"), stopped.stderr
    assert json.loads(server(pgdata, "status", "--json").stdout)["running"] is False
    assert (pgdata / "PG_VERSION").exists()  # the data stays
    assert server(pgdata, "stop").stdout.startswith("embedded PostgreSQL is not running")
