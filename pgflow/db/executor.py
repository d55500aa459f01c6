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
transaction the caller opened. :func:`exchange_sync` / :func:`exchange_async` send several
queries in one round trip (psycopg's pipeline mode), for drivers that know what goes together.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

from psycopg.rows import dict_row

from pgflow.db.queries import query as named_query

T = TypeVar("T")

Fetch = Literal["none", "one", "all", "scalar", "rowcount"]


@dataclass(frozen=True)
class Query:
    """A query to run: the SQL text (or a named query), its parameters and what to fetch.

    ``commits``: the query is the last of its transaction, so the client driver
    (:mod:`pgflow.ops.driver`) sends the COMMIT with it, or runs it in autocommit when it opens
    no transaction: one round trip instead of three. The executors here ignore it.
    """

    sql: Any
    params: dict[str, Any] | tuple[Any, ...] | None = None
    fetch: Fetch = "all"
    named: bool = field(default=True)
    commits: bool = False

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

    def and_commit(self) -> Query:
        """This query, marked as the last of its transaction (see ``commits``)."""
        return replace(self, commits=True)


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


def _fetched(cur: Any, q: Query) -> Any:
    return _result(cur, q.fetch, cur.fetchall() if q.fetch in ("all", "one", "scalar") and cur.description else None)


async def _fetched_async(cur: Any, q: Query) -> Any:
    rows = await cur.fetchall() if q.fetch in ("all", "one", "scalar") and cur.description else None
    return _result(cur, q.fetch, rows)


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
                result = _fetched(cur, q)
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
                result = await _fetched_async(cur, q)
            q = operation.send(result)
    except StopIteration as stop:
        return stop.value


def exchange_sync(conn: Any, queries: Sequence[Query]) -> list[Any]:
    """Send ``queries`` together and return their results, in order: one round trip.

    Several queries go in one pipeline ending in one Sync; on an autocommit connection they
    form one implicit transaction unless they contain BEGIN/COMMIT themselves. The first error
    is raised (the server skips what follows it, up to the Sync).
    """
    if len(queries) == 1:
        return [run_sync(conn, queries[0])]
    cursors = [conn.cursor(row_factory=dict_row) for _ in queries]
    try:
        with conn.pipeline():
            for cur, q in zip(cursors, queries):
                cur.execute(q.text, q.params)
        return [_fetched(cur, q) for cur, q in zip(cursors, queries)]
    finally:
        for cur in cursors:
            cur.close()


async def exchange_async(conn: Any, queries: Sequence[Query]) -> list[Any]:
    """:func:`exchange_sync` on an async connection."""
    if len(queries) == 1:
        return [await run_async(conn, queries[0])]
    cursors = [conn.cursor(row_factory=dict_row) for _ in queries]
    try:
        async with conn.pipeline():
            for cur, q in zip(cursors, queries):
                await cur.execute(q.text, q.params)
        return [await _fetched_async(cur, q) for cur, q in zip(cursors, queries)]
    finally:
        for cur in cursors:
            await cur.close()
