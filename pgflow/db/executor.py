"""One description per database operation, run by a sync or an async executor.

An *operation* is a generator that yields :class:`Query` objects and receives each query's
result; its return value is the operation's result. The same generator runs on a
``psycopg.Connection`` (:func:`run_sync`) or a ``psycopg.AsyncConnection``
(:func:`run_async`), so the sync and async clients share every line of logic::

    def get_run(run_id):
        row = yield Query.one("get_run", run_id=run_id)
        if row is None:
            raise RunNotFound(run_id)
        return Run.from_row(row)

Each yielded query runs in its own transaction unless the operation is run inside a
transaction the caller opened.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from psycopg.rows import dict_row

from pgflow.db.queries import query as named_query

T = TypeVar("T")

Fetch = Literal["none", "one", "all", "scalar", "rowcount"]


@dataclass(frozen=True)
class Query:
    """A query to run: the SQL text (or a named query), its parameters and what to fetch."""

    sql: Any
    params: dict[str, Any] | tuple[Any, ...] | None = None
    fetch: Fetch = "all"
    named: bool = field(default=True)

    @property
    def text(self) -> Any:
        return named_query(self.sql) if self.named and isinstance(self.sql, str) else self.sql

    @classmethod
    def all(cls, name: str, /, **params: Any) -> Query:
        return cls(name, params, "all")

    @classmethod
    def one(cls, name: str, /, **params: Any) -> Query:
        return cls(name, params, "one")

    @classmethod
    def scalar(cls, name: str, /, **params: Any) -> Query:
        return cls(name, params, "scalar")

    @classmethod
    def execute(cls, name: str, /, **params: Any) -> Query:
        return cls(name, params, "rowcount")


Operation = Generator[Query, Any, T]


def _result(cur: Any, fetch: Fetch, rows: list[dict[str, Any]] | None) -> Any:
    if fetch == "none":
        return None
    if fetch == "rowcount":
        return cur.rowcount
    if fetch == "all":
        return rows
    if fetch == "one":
        return rows[0] if rows else None
    # scalar: first column of the first row
    return next(iter(rows[0].values())) if rows else None


def _single(q: Query) -> Operation[Any]:
    return (yield q)


def _as_operation(operation: Operation[T] | Query) -> Operation[Any]:
    return _single(operation) if isinstance(operation, Query) else operation


def run_sync(conn: Any, operation: Operation[T] | Query) -> T:
    """Drive ``operation`` (or a single :class:`Query`) on a sync psycopg connection."""
    operation = _as_operation(operation)
    try:
        q = next(operation)
        while True:
            with conn.cursor(row_factory=dict_row) as cur:
                cur.execute(q.text, q.params)
                rows = cur.fetchall() if q.fetch in ("all", "one", "scalar") and cur.description else None
                result = _result(cur, q.fetch, rows)
            q = operation.send(result)
    except StopIteration as stop:
        return stop.value


async def run_async(conn: Any, operation: Operation[T] | Query) -> T:
    """Drive ``operation`` (or a single :class:`Query`) on an async psycopg connection."""
    operation = _as_operation(operation)
    try:
        q = next(operation)
        while True:
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(q.text, q.params)
                rows = await cur.fetchall() if q.fetch in ("all", "one", "scalar") and cur.description else None
                result = _result(cur, q.fetch, rows)
            q = operation.send(result)
    except StopIteration as stop:
        return stop.value
