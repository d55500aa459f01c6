"""The worker's connections: a few autocommit connections, retried with backoff when lost.

Every database call of the worker goes through :meth:`Database.call`, which is also the
``db.query`` telemetry span. When PostgreSQL restarts or the network drops, the call waits
and retries (0.1 s doubling to 5 s), emits ``db.unavailable`` once per outage and
``db.available`` when it is back, so every component resumes by itself.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import psycopg
from psycopg import pq
from psycopg.abc import Buffer
from psycopg.adapt import Loader
from psycopg.rows import dict_row

from pgflow import telemetry
from pgflow.db.errors import first_line
from pgflow.db.queries import query

T = TypeVar("T")

MAX_BACKOFF = 5.0


_decode_json = json.JSONDecoder().decode


class JsonbTextLoader(Loader):
    """jsonb values as json.loads reads them, without its detection of the bytes' encoding
    (PostgreSQL sends UTF-8): half the cost of the default loader on the claim's small inputs."""

    def load(self, data: Buffer) -> Any:
        return _decode_json(str(data, "utf-8"))


class Stopped(Exception):
    """Raised by a retrying call when the worker stops while the database is unreachable."""


def is_transient(exc: BaseException) -> bool:
    """Errors worth retrying: lost connections, shutdowns, deadlocks, serialization failures."""
    return isinstance(exc, (psycopg.OperationalError, OSError)) and not isinstance(exc, psycopg.errors.QueryCanceled)


class Database:
    """Up to ``size`` connections for the worker's own queries."""

    def __init__(self, conninfo: str, *, size: int = 3, application_name: str = "pgflow worker") -> None:
        self.conninfo = conninfo
        self.application_name = application_name[:63]
        self._slots = asyncio.Semaphore(size)
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._outage_since: float | None = None
        self._closed = False

    async def connect(self) -> psycopg.AsyncConnection[Any]:
        conn = await psycopg.AsyncConnection.connect(
            self.conninfo, autocommit=True, connect_timeout=5, application_name=self.application_name
        )
        conn.adapters.register_loader("jsonb", JsonbTextLoader)
        return conn

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        async with self._slots:
            conn = self._idle.pop() if self._idle else await self.connect()
            reusable = False
            try:
                yield conn
                reusable = True
            finally:
                if reusable and not self._closed and not conn.closed \
                        and conn.info.transaction_status == pq.TransactionStatus.IDLE:
                    self._idle.append(conn)
                else:
                    await _close_quietly(conn)

    async def call(
        self,
        label: str,
        fn: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]],
        *,
        retry: bool = True,
        stop: asyncio.Event | None = None,
        deadline: float | None = None,
    ) -> T:
        """Run ``fn(conn)``; on a transient error wait and retry until it works.

        Gives up (re-raising, or :class:`Stopped`) when ``retry`` is False, when ``stop`` is set,
        or after the ``time.monotonic()`` ``deadline``.
        """
        delay = 0.1
        while True:
            try:
                with telemetry.span("db.query", {"query": label}):
                    async with self.connection() as conn:
                        result = await fn(conn)
                self._available()
                return result
            except Exception as exc:
                if not is_transient(exc) or not retry:
                    raise
                if stop is not None and stop.is_set():
                    raise Stopped(label) from exc
                if deadline is not None and time.monotonic() + delay > deadline:
                    raise
                self._unavailable(exc, delay)
                await _sleep(delay * random.uniform(0.8, 1.2), stop)
                delay = min(delay * 2, MAX_BACKOFF)

    async def fetch(self, name: str, params: dict[str, Any], *, row_factory: Any = dict_row,
                    **options: Any) -> list[Any]:
        """Run the named query (pgflow/sql/queries/worker.sql) and return its rows (as dicts unless
        another ``row_factory`` is given, e.g. ``tuple_row`` on the hot path)."""
        text = query(name)

        async def run(conn: psycopg.AsyncConnection[Any]) -> list[Any]:
            async with conn.cursor(row_factory=row_factory) as cur:
                await cur.execute(text, params)
                result = cur.pgresult  # (cur.description would build the columns just to say "rows")
                return await cur.fetchall() if result is not None and result.nfields else []

        return await self.call(name, run, **options)

    def _unavailable(self, exc: BaseException, retry_in: float) -> None:
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            telemetry.execute("db.unavailable", {"retry_in": retry_in}, {"error": first_line(exc)})

    def _available(self) -> None:
        if self._outage_since is not None:
            outage = time.monotonic() - self._outage_since
            self._outage_since = None
            telemetry.execute("db.available", {"outage": outage}, {})

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            await _close_quietly(conn)


async def _close_quietly(conn: psycopg.AsyncConnection[Any]) -> None:
    try:
        await conn.close()
    except Exception:  # noqa: S110 - a broken connection may fail to close; it is gone either way
        pass


async def _sleep(seconds: float, stop: asyncio.Event | None) -> None:
    if stop is None:
        await asyncio.sleep(seconds)
        return
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except asyncio.TimeoutError:
        pass
