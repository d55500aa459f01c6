"""``pgflow db url``: the embedded server's URLs, and a TCP one for clients that cannot use its
socket URL (Node's ``postgres`` package rejects ``postgresql://postgres:@/db?host=/dir``)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pgflow.db import embedded
from tests.acceptance.cli.conftest import assert_one_line_error


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def embedded_env(pgdata: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PGFLOW_DATABASE_URL", "DATABASE_URL")}
    env["PGFLOW_EMBEDDED_DIR"] = str(pgdata)
    return env


def pgflow_db_url(pgdata: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pgflow", "db", "url", *args], env=embedded_env(pgdata),
                          capture_output=True, text=True, timeout=90)


@pytest.fixture
def pgdata() -> Iterator[Path]:
    """A data directory for a server of the test's own, outside pytest's temporary root: pytest
    makes that root private again at each session start, which would lock out the server's
    system user (``embedded_postgres`` when run as root) while another session runs."""
    base = Path(os.environ.get("PGFLOW_TEST_TMP", tempfile.gettempdir()))
    root = Path(tempfile.mkdtemp(prefix="pgflow-test-embedded-", dir=base))
    try:
        yield root / "pgdata"
    finally:
        embedded.stop(root / "pgdata")
        shutil.rmtree(root, ignore_errors=True)


def server_address(url: str) -> tuple[str | None, str]:
    with psycopg.connect(url, connect_timeout=10) as conn:
        row = conn.execute("SELECT host(inet_server_addr()), current_database()").fetchone()
        assert row is not None
        return row[0], row[1]


def test_db_url_tcp_makes_the_embedded_server_listen_on_localhost(pgdata: Path) -> None:
    port = free_port()

    result = pgflow_db_url(pgdata, "--tcp", "--port", str(port))

    assert result.returncode == 0, result.stderr
    tcp = result.stdout.strip()
    assert tcp == f"postgresql://postgres@127.0.0.1:{port}/pgflow"
    assert server_address(tcp) == ("127.0.0.1", "pgflow")
    socket_url = pgflow_db_url(pgdata).stdout.strip()  # the socket form still works, now with the port
    assert socket_url.startswith("postgresql://postgres:@/pgflow?host=") and f"port={port}" in socket_url
    assert server_address(socket_url) == (None, "pgflow")


def test_the_tcp_port_is_kept_across_server_restarts(pgdata: Path) -> None:
    port = free_port()
    embedded.enable_tcp(port, pgdata)
    embedded.stop(pgdata)

    again = pgflow_db_url(pgdata, "--tcp")  # no --port: the one chosen before

    assert again.stdout.strip() == embedded.tcp_url(port)
    embedded.stop(pgdata)
    embedded.start(pgdata)  # a plain start (any pgflow command) listens there too
    assert server_address(embedded.tcp_url(port)) == ("127.0.0.1", "pgflow")


def test_db_url_prints_a_configured_url_and_refuses_tcp_for_it(pgdata: Path) -> None:
    given = "postgresql://app@db.internal:5432/app"
    env = {**embedded_env(pgdata), "PGFLOW_DATABASE_URL": given}
    run = [sys.executable, "-m", "pgflow", "db", "url"]

    shown = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60)
    refused = subprocess.run([*run, "--tcp"], env=env, capture_output=True, text=True, timeout=60)

    assert shown.returncode == 0 and shown.stdout.strip() == given
    assert_one_line_error(refused, "--tcp is for the embedded server")
    assert not pgdata.exists()  # nothing was started
