"""A throwaway PostgreSQL 15 with pg_cron loaded, for the pg_cron backend tests.

Uses Debian's ``postgresql-15`` and ``postgresql-15-cron`` packages: initdb into a temporary
directory, ``shared_preload_libraries = 'pg_cron'``, a unix socket in that directory (no TCP),
and pg_cron running its jobs in background workers (no libpq connection, no passwords).
The server itself (as the ``embedded_postgres`` user when we are root, stopped by its PID, its
directory deleted) is tests/production/servers.py's LocalServer.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.production.servers import LocalServer

BIN = Path("/usr/lib/postgresql/15/bin")
PG_CRON = Path("/usr/lib/postgresql/15/lib/pg_cron.so")
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


class PgCronServer(LocalServer):
    def __init__(self) -> None:
        super().__init__(BIN, {
            "shared_preload_libraries": "'pg_cron'",
            "cron.database_name": f"'{DATABASE}'",
            "cron.use_background_workers": "on",
            "max_worker_processes": "32",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }, prefix="pgflow-cron-")
