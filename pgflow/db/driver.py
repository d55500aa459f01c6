"""The two drivers: perform a plan's requests on a sync or an async psycopg connection.

:func:`drive_sync` and :func:`drive_async` are the only places that use a connection for an
operation, and they only do I/O: what to send, in which transaction, and what to do when
something fails is decided by the plan (:mod:`pgflow.db.planner`). Errors come out as
:mod:`pgflow.errors` where they map (:func:`pgflow.db.translate_error`), and each operation is
one ``db.query`` telemetry span (:func:`query_span`), whoever calls: client, worker, scheduler,
CLI or dashboard.
"""

from __future__ import annotations

from contextlib import aclosing, closing
from contextvars import ContextVar
from typing import Any, TypeVar, overload

import psycopg
from psycopg.rows import dict_row

from pgflow import telemetry
from pgflow.db.errors import translate_error
from pgflow.db.operation import ClientOperation, Fetch, Query, WaitForEvent
from pgflow.db.planner import ASK_STATE, ConnState, Plan, Request, Trip, plan

T = TypeVar("T")

# --- the telemetry span ------------------------------------------------------------------------

_in_span: ContextVar[bool] = ContextVar("pgflow_db_query_span", default=False)


class query_span:  # noqa: N801 - used as a function: ``with query_span(label):``
    """The ``db.query`` span around one database call, labelled by its query or operation.

    Free when no telemetry handler wants it (no allocation beyond this object); the label is
    worked out only when one does. A call made inside another's span (an operation driven
    within a worker's :meth:`pgflow.db.Database.call`) is part of that span, not a span of its own.
    """

    __slots__ = ("_subject", "_span", "_token")

    def __init__(self, subject: object) -> None:
        self._subject = subject
        self._span: telemetry.Span | None = None

    def __enter__(self) -> None:
        if telemetry.wants_span("db.query") and not _in_span.get():
            self._token = _in_span.set(True)
            self._span = telemetry.begin("db.query", {"query": _label(self._subject)})

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if self._span is not None:
            _in_span.reset(self._token)
            self._span.end(exc)


def _label(subject: object) -> str:
    if isinstance(subject, str):
        return subject
    if isinstance(subject, Query):
        return subject.label
    return str(getattr(subject, "__name__", type(subject).__name__))


# --- the drivers -------------------------------------------------------------------------------


def _single(q: Query) -> ClientOperation[Any]:
    return (yield q)


def _operation(op: ClientOperation[T] | Query) -> ClientOperation[Any]:
    """A lone query is an operation of its own transaction (one round trip in autocommit)."""
    return _single(op.and_commit()) if isinstance(op, Query) else op


def _state(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> ConnState:
    return ConnState(conn.autocommit, conn.info.transaction_status, psycopg.Pipeline.is_supported())


def _refuse_wait_through_pooler(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any],
                                request: WaitForEvent) -> None:
    """A wait's LISTEN cannot hear anything through a transaction-mode pooler (the session that
    listened serves other clients once the transaction commits): say so instead of timing out."""
    from pgflow.db.dsn import DIRECT_URL_VAR, through_pooler
    from pgflow.errors import ConfigurationError

    if through_pooler(conn.info.dsn):
        subject = request.channel.rsplit(":", 1)[-1]
        raise ConfigurationError(
            f"waiting for run {subject} needs LISTEN, which does not work through a transaction-mode "
            f"connection pooler; the run was started: follow it with client.subscribe(run_id) (it listens "
            f"on {DIRECT_URL_VAR}), or give this client a direct URL to wait with")


@overload
def drive_sync(conn: psycopg.Connection[Any], op: ClientOperation[T], *, label: str | None = None) -> T: ...
@overload
def drive_sync(conn: psycopg.Connection[Any], op: Query, *, label: str | None = None) -> Any: ...


def drive_sync(conn: psycopg.Connection[Any], op: ClientOperation[T] | Query, *, label: str | None = None) -> T:
    """Run ``op`` (or a single :class:`Query`) on a sync connection and return its result."""
    with query_span(op if label is None else label):
        steps: Plan = plan(_operation(op))
        try:
            request: Request = next(steps)
            while True:
                try:
                    if isinstance(request, tuple):
                        reply: Any = exchange_sync(conn, request)
                    elif isinstance(request, WaitForEvent):
                        reply = None
                        _refuse_wait_through_pooler(conn, request)
                        with closing(conn.notifies(timeout=request.timeout)) as notifies:
                            for notify in notifies:
                                if (reply := request.match(notify.payload)) is not None:
                                    break
                    else:
                        reply = _state(conn)
                except BaseException as exc:  # the plan decides what follows (a rollback, ...)
                    request = steps.throw(exc)
                else:
                    request = steps.send(reply)
        except StopIteration as stop:
            result: T = stop.value
            return result
        except psycopg.Error as exc:
            raise translate_error(exc) from exc


@overload
async def drive_async(conn: psycopg.AsyncConnection[Any], op: ClientOperation[T], *,
                      label: str | None = None) -> T: ...
@overload
async def drive_async(conn: psycopg.AsyncConnection[Any], op: Query, *, label: str | None = None) -> Any: ...


async def drive_async(conn: psycopg.AsyncConnection[Any], op: ClientOperation[T] | Query, *,
                      label: str | None = None) -> T:
    """Run ``op`` (or a single :class:`Query`) on an async connection (the twin of :func:`drive_sync`)."""
    with query_span(op if label is None else label):
        steps: Plan = plan(_operation(op))
        try:
            request: Request = next(steps)
            while True:
                try:
                    if isinstance(request, tuple):
                        reply: Any = await exchange_async(conn, request)
                    elif isinstance(request, WaitForEvent):
                        reply = None
                        _refuse_wait_through_pooler(conn, request)
                        async with aclosing(conn.notifies(timeout=request.timeout)) as notifies:
                            async for notify in notifies:
                                if (reply := request.match(notify.payload)) is not None:
                                    break
                    else:
                        reply = _state(conn)
                except BaseException as exc:
                    request = steps.throw(exc)
                else:
                    request = steps.send(reply)
        except StopIteration as stop:
            result: T = stop.value
            return result
        except psycopg.Error as exc:
            raise translate_error(exc) from exc


run_sync = drive_sync
"""The name the migrations and scripts know :func:`drive_sync` by."""
run_async = drive_async


# --- one round trip ----------------------------------------------------------------------------


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


def _reads(cur: Any, q: Query) -> bool:
    return q.fetch in ("all", "one", "scalar") and cur.description is not None


def exchange_sync(conn: psycopg.Connection[Any], trip: Trip) -> list[Any]:
    """Send ``trip``'s queries together and return their results, in order: one round trip.

    Several queries go in one pipeline ending in one Sync; on an autocommit connection they
    form one implicit transaction unless they contain BEGIN/COMMIT themselves. The first error
    is raised (the server skips what follows it, up to the Sync).
    """
    cursors = [conn.cursor(row_factory=dict_row) for _ in trip]
    try:
        if len(trip) == 1:
            cursors[0].execute(trip[0].text, trip[0].params)
        else:
            with conn.pipeline():
                for cur, q in zip(cursors, trip):
                    cur.execute(q.text, q.params)
        return [_result(cur, q.fetch, cur.fetchall() if _reads(cur, q) else None) for cur, q in zip(cursors, trip)]
    finally:
        for cur in cursors:
            cur.close()


async def exchange_async(conn: psycopg.AsyncConnection[Any], trip: Trip) -> list[Any]:
    """:func:`exchange_sync` on an async connection."""
    cursors = [conn.cursor(row_factory=dict_row) for _ in trip]
    try:
        if len(trip) == 1:
            await cursors[0].execute(trip[0].text, trip[0].params)
        else:
            async with conn.pipeline():
                for cur, q in zip(cursors, trip):
                    await cur.execute(q.text, q.params)
        return [_result(cur, q.fetch, await cur.fetchall() if _reads(cur, q) else None) for cur, q in zip(cursors, trip)]
    finally:
        for cur in cursors:
            await cur.close()
