"""A throwaway PgBouncer in transaction pooling mode in front of the test server.

Uses Debian's ``pgbouncer`` package: a config, auth file, socket and log in a temporary
directory, listening on a free localhost port. Every database of the server is reachable through
it (``* =`` fallback) and every client logs in to the server as the role of the given URL
(``auth_type = any``), so the tests' fresh databases work through it unchanged. PgBouncer refuses
to run as root, so as root it runs as the ``embedded_postgres`` user. Stopped by its PID.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.production.servers import RUN_AS

BINARY = Path("/usr/sbin/pgbouncer")
MISSING = "the pooler tests need Debian's pgbouncer package (apt-get install -y pgbouncer; .ci/run installs it)"


def require_pgbouncer() -> None:
    """Skip without the package on a developer machine; fail in CI, where it must be."""
    if BINARY.exists():
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI=true but {MISSING}", pytrace=False)
    pytest.skip(MISSING)


@pytest.fixture(scope="session")
def session_pooler(pg_admin_url: str) -> Iterator[PgBouncer]:
    """One PgBouncer for the session (``PGFLOW_TEST_POOLER=1``: every ``db_url`` goes through it)."""
    require_pgbouncer()
    pooler = PgBouncer(pg_admin_url)
    pooler.start()
    try:
        yield pooler
    finally:
        pooler.stop()


def pooled(request: pytest.FixtureRequest, direct_url: str) -> str:
    """``direct_url``'s database through the session's pooler, with the environment a deployment
    behind a pooler has: PGFLOW_POOLER=transaction and PGFLOW_DIRECT_URL (for LISTEN)."""
    pooler: PgBouncer = request.getfixturevalue("session_pooler")
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setenv("PGFLOW_POOLER", "transaction")
    monkeypatch.setenv("PGFLOW_DIRECT_URL", direct_url)
    return pooler.url(conninfo_to_dict(direct_url)["dbname"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgBouncer:
    def __init__(self, server_url: str, *, pool_size: int = 20) -> None:
        self.server = conninfo_to_dict(server_url)
        self.root = Path(tempfile.mkdtemp(prefix="pgflow-pgbouncer-"))
        self.port = free_port()
        self.pool_size = pool_size
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        host = self.server.get("host") or "localhost"
        target = f"host={host} port={self.server.get('port') or 5432} user={self.server.get('user') or 'postgres'}"
        (self.root / "userlist.txt").write_text('"postgres" ""\n')
        (self.root / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = {target}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            f"unix_socket_dir = {self.root}\n"
            "auth_type = any\n"
            f"auth_file = {self.root / 'userlist.txt'}\n"
            "pool_mode = transaction\n"
            "max_client_conn = 1000\n"
            f"default_pool_size = {self.pool_size}\n"
            "max_db_connections = 0\n"
            "server_reset_query =\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
            f"logfile = {self.root / 'pgbouncer.log'}\n"
        )
        switch: dict[str, object] = {}
        if os.geteuid() == 0:  # Popen switches user itself: its pid is pgbouncer's, to stop it by
            user = pwd.getpwnam(RUN_AS)
            for path in (self.root, *self.root.iterdir()):
                os.chown(path, user.pw_uid, user.pw_gid)
            switch = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        self.process = subprocess.Popen([str(BINARY), str(self.root / "pgbouncer.ini")], **switch,  # type: ignore[call-overload]
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"pgbouncer did not start:\n{self.log()}") from None
                time.sleep(0.05)

    def url(self, dbname: str, **params: str) -> str:
        """A URL to ``dbname`` through the pooler."""
        return make_conninfo(host="127.0.0.1", port=str(self.port), user=self.server.get("user") or "postgres",
                             dbname=dbname, **params)

    def log(self) -> str:
        path = self.root / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            pid = self.process.pid
            try:
                os.kill(pid, signal.SIGTERM)  # immediate shutdown
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
            self.process = None
        shutil.rmtree(self.root, ignore_errors=True)
