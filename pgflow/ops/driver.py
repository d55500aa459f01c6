"""Drive an operation on a connection: transactions, waiting for events, error translation.

An operation (see :mod:`pgflow.db.executor`) yields :class:`pgflow.db.Query` objects, and here
also :class:`WaitForEvent` and :class:`Snapshot`. The driver runs consecutive queries in one
transaction; a ``WaitForEvent`` commits that transaction first (LISTEN takes effect and NOTIFY is
delivered only between transactions), then waits on the connection's notifications, with no
polling. So::

    yield listen(channel)                 # same transaction as ...
    run = yield Query.one("start_run", ...)  # ... the start: no event can be missed
    event = yield WaitForEvent(channel, until=is_terminal, timeout=60)

A ``Snapshot`` also commits what came before, then runs its queries in a transaction of their
own that reads one snapshot of the database (REPEATABLE READ, read-only)::

    run, steps = yield Snapshot((Query.one("select_run", ...), Query.all("select_steps", ...)))

:func:`drive_sync` and :func:`drive_async` are the only two places that know how a connection
is used; :func:`translate_error` is the only place that turns database errors into
:mod:`pgflow.errors`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from pgflow.db.executor import Operation, Query, run_async, run_sync
from pgflow.errors import (
    DatabaseUnavailable,
    FlowDefinitionError,
    FlowNotFound,
    InvalidInput,
    PgFlowError,
    RunNotFound,
    SchemaError,
)
from pgflow.events import Event, parse_event


@dataclass(frozen=True)
class WaitForEvent:
    """Commit, then wait up to ``timeout`` seconds for an event on ``channel`` matching ``until``.

    The operation receives the matching :class:`pgflow.events.Event`, or ``None`` on timeout.
    The channel must have been LISTENed to (see :func:`listen`); it is UNLISTENed afterwards.
    """

    channel: str
    until: Callable[[Event], bool]
    timeout: float


@dataclass(frozen=True)
class Snapshot:
    """Run ``queries`` in one REPEATABLE READ, read-only transaction, so they all see the same
    committed state; the operation receives their results as a list, in order.

    The transaction before it is committed first. When the caller's connection is already inside
    a transaction (one the caller opened), the queries run in that transaction as they are.
    """

    queries: tuple[Query, ...]


T = TypeVar("T")
Step = Query | WaitForEvent | Snapshot
ClientOperation = Generator[Step, Any, T]
"""An operation the client driver runs: it may also yield :class:`WaitForEvent` and :class:`Snapshot`."""

_SNAPSHOT = Query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", None, "none", named=False)
_OWN_TRANSACTION = (WaitForEvent, Snapshot)


def listen(channel: str) -> Query:
    return Query(sql.SQL("LISTEN {}").format(sql.Identifier(channel)), None, "none", named=False)


def unlisten(channel: str) -> Query:
    return Query(sql.SQL("UNLISTEN {}").format(sql.Identifier(channel)), None, "none", named=False)


_DONE = object()


def _advance(op: ClientOperation[Any], value: Any) -> tuple[Any, Any]:
    try:
        return op.send(value), None
    except StopIteration as stop:
        return _DONE, stop.value


def _matching(wait: WaitForEvent, payload: str) -> Event | None:
    try:
        event = parse_event(payload)
    except (ValueError, KeyError):  # an event type this version does not know
        return None
    return event if wait.until(event) else None


def _snapshot_queries(conn: Any, snapshot: Snapshot) -> list[Query]:
    """The queries to run for ``snapshot``: with the isolation level first unless the caller's
    transaction is already open (then that one's level holds)."""
    idle = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    return [_SNAPSHOT, *snapshot.queries] if idle else list(snapshot.queries)


def _read_snapshot_sync(conn: psycopg.Connection[Any], snapshot: Snapshot) -> list[Any]:
    queries = _snapshot_queries(conn, snapshot)
    with conn.transaction():
        results: list[Any] = [run_sync(conn, q) for q in queries]
    return results[len(results) - len(snapshot.queries):]


async def _read_snapshot_async(conn: psycopg.AsyncConnection[Any], snapshot: Snapshot) -> list[Any]:
    queries = _snapshot_queries(conn, snapshot)
    async with conn.transaction():
        results: list[Any] = [await run_async(conn, q) for q in queries]
    return results[len(results) - len(snapshot.queries):]


def drive_sync(conn: psycopg.Connection[Any], op: ClientOperation[Any]) -> Any:
    """Run ``op`` on a sync connection; errors come out as :mod:`pgflow.errors` where they map."""
    try:
        step, value = _advance(op, None)
        while step is not _DONE:
            if isinstance(step, WaitForEvent):
                step, value = _advance(op, _wait_sync(conn, step))
                continue
            if isinstance(step, Snapshot):
                step, value = _advance(op, _read_snapshot_sync(conn, step))
                continue
            with conn.transaction():
                while step is not _DONE and not isinstance(step, _OWN_TRANSACTION):
                    step, value = _advance(op, run_sync(conn, step))
        return value
    except psycopg.Error as exc:
        raise translate_error(exc) from exc


def _wait_sync(conn: psycopg.Connection[Any], wait: WaitForEvent) -> Event | None:
    try:
        for notify in conn.notifies(timeout=wait.timeout):
            event = _matching(wait, notify.payload)
            if event is not None:
                return event
        return None
    finally:
        try:
            with conn.transaction():
                run_sync(conn, unlisten(wait.channel))
        except psycopg.Error:  # a broken connection: the pool replaces it, and the channel with it
            pass


async def drive_async(conn: psycopg.AsyncConnection[Any], op: ClientOperation[Any]) -> Any:
    """Run ``op`` on an async connection (the twin of :func:`drive_sync`)."""
    try:
        step, value = _advance(op, None)
        while step is not _DONE:
            if isinstance(step, WaitForEvent):
                step, value = _advance(op, await _wait_async(conn, step))
                continue
            if isinstance(step, Snapshot):
                step, value = _advance(op, await _read_snapshot_async(conn, step))
                continue
            async with conn.transaction():
                while step is not _DONE and not isinstance(step, _OWN_TRANSACTION):
                    step, value = _advance(op, await run_async(conn, step))
        return value
    except psycopg.Error as exc:
        raise translate_error(exc) from exc


async def _wait_async(conn: psycopg.AsyncConnection[Any], wait: WaitForEvent) -> Event | None:
    try:
        async for notify in conn.notifies(timeout=wait.timeout):
            event = _matching(wait, notify.payload)
            if event is not None:
                return event
        return None
    finally:
        try:
            async with conn.transaction():
                await run_async(conn, unlisten(wait.channel))
        except psycopg.Error:
            pass


# --- errors ------------------------------------------------------------------------------------

_QUOTED = re.compile(r"""["']([^"']+)["']""")
_MISSING_OBJECT = (pg_errors.UndefinedFunction, pg_errors.UndefinedTable, pg_errors.InvalidSchemaName)


def _text(exc: psycopg.Error) -> str:
    diag = exc.diag
    primary = diag.message_primary or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return f"{primary} ({diag.message_hint})" if diag.message_hint else primary


def _subject(message: str) -> str | None:
    found = _QUOTED.search(message)
    return found[1] if found else None


def translate_error(exc: BaseException) -> BaseException:
    """The :mod:`pgflow.errors` exception for a database error, or ``exc`` itself.

    SQLSTATEs PF001-PF004 (raised by the engine's SQL) become FlowNotFound, RunNotFound,
    InvalidInput and FlowDefinitionError; a missing pgflow object becomes SchemaError; a
    connection failure becomes DatabaseUnavailable.
    """
    if isinstance(exc, PgFlowError) or not isinstance(exc, psycopg.Error):
        return exc
    code = exc.sqlstate
    message = _text(exc)
    if code == "PF001":
        return FlowNotFound(_subject(message), message)
    if code == "PF002":
        return RunNotFound(_subject(message), message)
    if code == "PF003":
        return InvalidInput(message)
    if code == "PF004":
        return FlowDefinitionError(message)
    if isinstance(exc, _MISSING_OBJECT) and "pgflow" in str(exc):
        return SchemaError(
            f"the pgflow schema is missing or incomplete ({message}); "
            f"install it with `pgflow db install` or client.install()"
        )
    if isinstance(exc, psycopg.OperationalError) and code is None:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return DatabaseUnavailable(
            f"cannot reach the database: {first}. Check that PostgreSQL is running and that "
            f"PGFLOW_DATABASE_URL (or the URL you passed) points at it"
        )
    return exc
