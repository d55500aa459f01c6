"""What a user's psycopg_pool connects with, for the extra connections pgflow opens beside it.

The event hub's LISTEN connection and the dashboard's read-only pool connect to the database a
client's pool uses. psycopg_pool takes the connection string and keyword arguments either as
values or as callables (sync, or async on an AsyncConnectionPool) called for every new
connection, e.g. to fetch a fresh token; pgflow calls them once, when it opens its own.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from psycopg import pq
from psycopg.conninfo import make_conninfo
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from pgflow.errors import ConfigurationError

Pool = ConnectionPool | AsyncConnectionPool


async def connect_args(pool: Pool) -> tuple[str, dict[str, Any]]:
    """The connection string and keyword arguments ``pool`` would open a connection with now."""
    conninfo, kwargs = _called(pool.conninfo), _called(pool.kwargs)
    conninfo = await conninfo if inspect.isawaitable(conninfo) else conninfo
    kwargs = await kwargs if inspect.isawaitable(kwargs) else kwargs
    return _checked(conninfo, kwargs)


def connect_args_sync(pool: Pool) -> tuple[str, dict[str, Any]]:
    """:func:`connect_args` outside an event loop: async callables raise ConfigurationError."""
    conninfo, kwargs = _called(pool.conninfo), _called(pool.kwargs)
    for value in (conninfo, kwargs):
        if inspect.isawaitable(value):
            if inspect.iscoroutine(value):
                value.close()  # never awaited on purpose; closing it avoids the warning
            raise ConfigurationError(
                "the pool's conninfo or kwargs is an async function, which cannot be called here: "
                "pass the database URL (a string) instead of the client"
            )
    return _checked(conninfo, kwargs)


def libpq_conninfo(conninfo: str, kwargs: Mapping[str, Any]) -> str:
    """``conninfo`` with the libpq parameters among ``kwargs`` (``password``, ``host``, ...)
    folded in; psycopg's own options (``autocommit``, ``row_factory``, ...) are left out."""
    keywords = {option.keyword.decode() for option in pq.Conninfo.get_defaults()}
    params = {k: v for k, v in kwargs.items() if k in keywords and v is not None}
    return make_conninfo(conninfo, **params)


def _called(setting: object) -> object:
    return setting() if callable(setting) else setting


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
