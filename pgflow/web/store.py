"""The dashboard's database access: a small pool of read-only connections running named queries.

Connections are opened lazily on the first request (a dashboard mounted inside another
Starlette/FastAPI app gets no lifespan of its own) and closed by :meth:`Store.close` or the
standalone app's lifespan. Every connection is read-only (``default_transaction_read_only``),
has a statement timeout, and never prepares statements, so each query is planned with its
actual parameter values. Each query is a ``db.query`` telemetry span, as everywhere else.
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from pgflow.db import ClientOperation, Query, connect_args_sync, drive_async, libpq_conninfo, new_pool


def conninfo_of(client: Any) -> str | None:
    """The connection string behind ``client``: a URL string, or a pgflow client's settings."""
    if client is None or isinstance(client, str):
        return client
    from pgflow.client import AsyncClient, Client

    if isinstance(client, (Client, AsyncClient)):
        # the URL the client was given or resolved; None means the configured database
        pool = client._pool
        if pool is None or client._owns_pool:
            return client._dsn
        return libpq_conninfo(*connect_args_sync(pool))
    raise TypeError(
        f"cannot find a database URL on {type(client).__name__}: pass a pgflow Client, "
        "an AsyncClient or a PostgreSQL URL string to pgflow.web.create_app"
    )


class Store:
    """Runs the dashboard's named queries (pgflow/sql/queries/dashboard.sql) on a small pool."""

    def __init__(self, conninfo: str | None, *, max_size: int = 4, query_timeout: float = 10.0) -> None:
        self._conninfo = conninfo
        self._max_size = max_size
        self._timeout_ms = int(query_timeout * 1000)
        self._pool: AsyncConnectionPool | None = None
        self._lock = asyncio.Lock()
        self._tables: dict[str, bool] = {}

    @property
    def conninfo(self) -> str:
        if self._conninfo is None:
            from pgflow.db.dsn import resolve_dsn

            self._conninfo = resolve_dsn(None)
        return self._conninfo

    async def _configure(self, conn: psycopg.AsyncConnection[Any]) -> None:
        conn.prepare_threshold = None
        from pgflow.db.dsn import through_pooler

        if through_pooler(self.conninfo):  # session settings would land on connections the pooler shares
            return  # (read-only there comes from the dashboard's role: pgflow db grant ROLE --as dashboard)
        await drive_async(conn, Query.execute("dashboard_session_setup", statement_timeout=str(self._timeout_ms)))

    async def pool(self) -> AsyncConnectionPool:
        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    pool = await asyncio.to_thread(
                        new_pool, AsyncConnectionPool, self.conninfo, max_size=self._max_size,
                        name="pgflow-dashboard", connect_timeout=5, configure=self._configure,
                    )
                    await pool.open(wait=True, timeout=10.0)
                    self._pool = pool
        assert self._pool is not None
        return self._pool

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def run(self, q: Query | ClientOperation[Any]) -> Any:
        pool = await self.pool()
        async with pool.connection() as conn:
            return await drive_async(conn, q)

    async def all(self, name: str, /, **params: Any) -> list[dict[str, Any]]:
        return await self.run(Query.all(name, **params))

    async def one(self, name: str, /, **params: Any) -> dict[str, Any] | None:
        return await self.run(Query.one(name, **params))

    async def scalar(self, name: str, /, **params: Any) -> Any:
        return await self.run(Query.scalar(name, **params))

    async def has_table(self, name: str) -> bool:
        """Whether a table exists (cached once found; optional parts like schedules may be absent)."""
        if self._tables.get(name):
            return True
        found = bool(await self.scalar("dashboard_table_exists", name=name))
        self._tables[name] = found
        return found
