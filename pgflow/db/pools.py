"""The connection pools: the clients' and the dashboard's, and the worker's retrying one.

* :func:`new_pool` makes the psycopg_pool a client or the dashboard opens: autocommit
  connections (without prepared statements behind a pooler, :func:`pgflow.db.dsn.connect_options`),
  after a probe that fails fast with the reason (the pool alone would retry until
  its timeout).
* :func:`connect_args` reads what a user's psycopg_pool connects with, for the extra connections
  pgflow opens beside it: the event hub's LISTEN connection and the dashboard's read-only pool
  connect to the database a client's pool uses. psycopg_pool takes the connection string and
  keyword arguments either as values or as callables (sync, or async on an AsyncConnectionPool)
  called for every new connection, e.g. to fetch a fresh token; pgflow calls them once, when it
  opens its own.
* :class:`Database` holds the worker's and the scheduler's few autocommit connections. When
  PostgreSQL restarts or the network drops, :meth:`Database.call` waits and retries (0.1 s
  doubling to 5 s), emits ``db.unavailable`` once per outage and ``db.available`` when it is
  back, so every component resumes by itself. Each call is one ``db.query`` telemetry span.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import psycopg
from psycopg import pq
from psycopg.abc import Buffer
from psycopg.adapt import Loader
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from pgflow import telemetry
from pgflow.db.driver import query_span
from pgflow.db.dsn import connect_options
from pgflow.db.errors import translate_error
from pgflow.errors import first_line
from pgflow.db.queries import query
from pgflow.errors import ConfigurationError

T = TypeVar("T")
P = TypeVar("P", bound="ConnectionPool[Any] | AsyncConnectionPool[Any]")
Pool = ConnectionPool | AsyncConnectionPool

MAX_BACKOFF = 5.0


# --- the clients' and the dashboard's pools ----------------------------------------------------


def new_pool(pool_class: type[P], conninfo: str, *, max_size: int, name: str, connect_timeout: int = 10,
             configure: Callable[..., Any] | None = None) -> P:
    """A ``pool_class`` of up to ``max_size`` autocommit connections to ``conninfo``, not open yet.

    One connection is made and closed first, so an unreachable database fails here, at once,
    with the reason (:class:`pgflow.errors.DatabaseUnavailable`). It blocks: from async code,
    call it in a thread (``asyncio.to_thread``); then open the pool (``pool.open(wait=True)``).
    """
    options = connect_options(conninfo)
    try:
        psycopg.connect(conninfo, connect_timeout=connect_timeout, **options).close()
    except psycopg.Error as exc:
        raise translate_error(exc) from exc
    return pool_class(conninfo, min_size=1, max_size=max_size, open=False, configure=configure,
                      kwargs={"autocommit": True, **options}, name=name)


async def connect_args(pool: Pool) -> tuple[str, dict[str, Any]]:
    """The connection string and keyword arguments ``pool`` would open a connection with now."""
    return _checked(*[await value if inspect.isawaitable(value) else value for value in _settings(pool)])


def connect_args_sync(pool: Pool) -> tuple[str, dict[str, Any]]:
    """:func:`connect_args` outside an event loop: async callables raise ConfigurationError."""
    settings = _settings(pool)
    if any(inspect.isawaitable(value) for value in settings):
        for value in settings:
            if inspect.iscoroutine(value):
                value.close()  # never awaited on purpose; closing it avoids the warning
        raise ConfigurationError(
            "the pool's conninfo or kwargs is an async function, which cannot be called here: "
            "pass the database URL (a string) instead of the client"
        )
    return _checked(*settings)


def libpq_conninfo(conninfo: str, kwargs: Mapping[str, Any]) -> str:
    """``conninfo`` with the libpq parameters among ``kwargs`` (``password``, ``host``, ...)
    folded in; psycopg's own options (``autocommit``, ``row_factory``, ...) are left out."""
    keywords = {option.keyword.decode() for option in pq.Conninfo.get_defaults()}
    params = {k: v for k, v in kwargs.items() if k in keywords and v is not None}
    return make_conninfo(conninfo, **params)


def _settings(pool: Pool) -> list[object]:
    """The pool's conninfo and kwargs, each called when it is a function (maybe an awaitable)."""
    return [setting() if callable(setting) else setting for setting in (pool.conninfo, pool.kwargs)]


def _checked(conninfo: object, kwargs: object) -> tuple[str, dict[str, Any]]:
    if not isinstance(conninfo, str):
        raise ConfigurationError(
            f"the pool's conninfo gave a {type(conninfo).__name__}, expected a connection string "
            "such as 'postgresql://user@host/db': fix the pool's conninfo (or the function returning it)"
        )
    if kwargs is not None and not isinstance(kwargs, Mapping):
        raise ConfigurationError(
            f"the pool's kwargs gave a {type(kwargs).__name__}, expected a dict of connection "
            "arguments: fix the pool's kwargs (or the function returning them)"
        )
    return conninfo, dict(kwargs or {})

# --- the worker's retrying connections ---------------------------------------------------------


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
            self.conninfo, autocommit=True, connect_timeout=5, application_name=self.application_name,
            **connect_options(self.conninfo),
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
                with query_span(label):
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
