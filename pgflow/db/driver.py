"""Drive an operation on a connection: transactions, waiting for events, error translation.

An operation (see :mod:`pgflow.db.executor`) yields :class:`pgflow.db.Query` objects, and here
also :class:`WaitForEvent` and :class:`Snapshot`. The driver runs consecutive queries in one
transaction; a ``WaitForEvent`` commits that transaction first (LISTEN takes effect and NOTIFY is
delivered only between transactions), then waits on the connection's notifications, with no
polling. So::

    yield listen(channel)                                  # same transaction as ...
    run = yield Query.one("start_run", ...).and_commit()  # ... the start: no event can be missed
    event = yield WaitForEvent(channel, until=is_terminal, timeout=60)

A ``Snapshot`` also commits what came before, then runs its queries in a transaction of their
own that reads one snapshot of the database (REPEATABLE READ, read-only)::

    run, steps = yield Snapshot((Query.one("select_run", ...), Query.all("select_steps", ...)))

On an autocommit connection (the clients' pools) the driver owns the transactions and sends the
steps in as few round trips as they allow (:func:`_trips`): above, the listen and the start go
together, in autocommit, because the start is marked as the last query of its transaction
(:meth:`Query.and_commit`), and the snapshot is one pipelined round trip.

:func:`drive_sync` and :func:`drive_async` are the only two places that know how a connection
is used; :func:`translate_error` is the only place that turns database errors into
:mod:`pgflow.errors`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg

from pgflow.db.errors import translate_error
from pgflow.db.executor import Query, exchange_async, exchange_sync, run_async, run_sync
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


def listen(channel: str) -> Query:
    """LISTEN on a pgflow event channel and register, so the engine NOTIFYs on it (pgflow.subscribe)."""
    return Query("events_subscribe", {"channel": channel}, "none")


def unlisten(channel: str) -> Query:
    return Query("events_unsubscribe", {"channel": channel}, "none")


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


# --- round trips -------------------------------------------------------------------------------

Trip = tuple[Query, ...]
"""Statements sent together, answered together: one round trip (see :func:`exchange_sync`)."""

_BEGIN = Query("BEGIN", None, "none", named=False)
_BEGIN_SNAPSHOT = Query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", None, "none", named=False)
_COMMIT = Query("COMMIT", None, "none", named=False)
_ROLLBACK = Query("ROLLBACK", None, "none", named=False)


def _script(query: Query) -> bool:
    """SQL text without parameters may hold several statements (a migration, pgmq's install): it
    runs alone, by the simple query protocol. Named queries are one statement each, and so are
    the ``psycopg.sql`` compositions of this package (``LISTEN {}``)."""
    return isinstance(query.sql, str) and not query.named and query.params is None


def _trips(op: ClientOperation[Any]) -> Generator[Trip | WaitForEvent, Any, Any]:
    """``op``'s steps as round trips on an autocommit connection, as few as the steps allow.

    The same transactions as one ``BEGIN``/``COMMIT`` around consecutive queries, with fewer trips:
    a statement whose result is not read (``fetch="none"``) waits to go with the next one; a
    ``BEGIN`` is sent only when a query's result is needed before the transaction ends, and goes
    with that query; a query marked :meth:`Query.and_commit` takes the ``COMMIT`` along, or, when
    no ``BEGIN`` was sent, goes in one pipeline with what waits: its implicit transaction commits
    all or nothing. So a one-statement operation costs one round trip. A :class:`Snapshot` is one
    trip (its queries must be single statements); so is what ends the transaction before a
    :class:`WaitForEvent`. Scripts (:func:`_script`) go alone.
    """
    waiting: list[Query] = []  # sent with the next trip
    begun = False  # a BEGIN went out, its COMMIT did not

    def to_commit() -> Trip:
        """What ends the current transaction, if anything is open or waiting."""
        if begun:
            return (*waiting, _COMMIT)
        return (_BEGIN, *waiting, _COMMIT) if waiting else ()

    step, value = _advance(op, None)
    while step is not _DONE:
        if isinstance(step, Query) and _script(step):  # a pipeline cannot carry it: a trip of its own
            if waiting or not begun:
                yield (*waiting,) if begun else (_BEGIN, *waiting)
            waiting, begun = [], True
            (result,) = yield (step,)
            if step.commits:
                yield (_COMMIT,)
                begun = False
            step, value = _advance(op, result)
            continue
        if isinstance(step, Query) and step.fetch == "none" and not step.commits:
            waiting.append(step)
            step, value = _advance(op, None)
            continue
        if isinstance(step, Query):
            before: Trip = tuple(waiting) if begun or step.commits else (_BEGIN, *waiting)
            after: Trip = (_COMMIT,) if begun and step.commits else ()
            results = yield (*before, step, *after)
            waiting, begun = [], not step.commits
            step, value = _advance(op, results[len(before)])
            continue
        ending = to_commit()
        waiting, begun = [], False
        if isinstance(step, Snapshot):
            results = yield (*ending, _BEGIN_SNAPSHOT, *step.queries, _COMMIT)
            step, value = _advance(op, results[len(ending) + 1:-1])
            continue
        if ending:
            yield ending
        step, value = _advance(op, (yield step))
    ending = to_commit()
    if ending:
        yield ending
    return value


def _drives_trips(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> bool:
    """Whether the driver owns the transactions: an autocommit connection outside a transaction
    (a pool's, as the clients open them). Else the caller's transaction is joined (savepoints)."""
    return conn.autocommit and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE \
        and psycopg.Pipeline.is_supported()


def _left_open(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> bool:
    status = conn.info.transaction_status
    return status in (psycopg.pq.TransactionStatus.INTRANS, psycopg.pq.TransactionStatus.INERROR)


def drive_sync(conn: psycopg.Connection[Any], op: ClientOperation[Any]) -> Any:
    """Run ``op`` on a sync connection; errors come out as :mod:`pgflow.errors` where they map.

    On an autocommit connection outside a transaction each trip of :func:`_trips` is one round
    trip; inside the caller's transaction the steps run as they come (see :func:`_join_sync`).
    """
    try:
        if not _drives_trips(conn):
            return _join_sync(conn, op)
        trips = _trips(op)
        try:
            trip = next(trips)
            while True:
                reply = _wait_sync(conn, trip) if isinstance(trip, WaitForEvent) else exchange_sync(conn, trip)
                trip = trips.send(reply)
        except StopIteration as stop:
            return stop.value
        except BaseException:
            if _left_open(conn):  # a failed statement or a failing operation: nothing of it commits
                with contextlib.suppress(psycopg.Error):
                    run_sync(conn, _ROLLBACK)
            raise
    except psycopg.Error as exc:
        raise translate_error(exc) from exc


async def drive_async(conn: psycopg.AsyncConnection[Any], op: ClientOperation[Any]) -> Any:
    """Run ``op`` on an async connection (the twin of :func:`drive_sync`)."""
    try:
        if not _drives_trips(conn):
            return await _join_async(conn, op)
        trips = _trips(op)
        try:
            trip = next(trips)
            while True:
                reply = await (_wait_async(conn, trip) if isinstance(trip, WaitForEvent)
                               else exchange_async(conn, trip))
                trip = trips.send(reply)
        except StopIteration as stop:
            return stop.value
        except BaseException:
            if _left_open(conn):
                with contextlib.suppress(psycopg.Error):
                    await run_async(conn, _ROLLBACK)
            raise
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
            if _drives_trips(conn):
                run_sync(conn, unlisten(wait.channel))
            else:
                with conn.transaction():
                    run_sync(conn, unlisten(wait.channel))
        except psycopg.Error:  # a broken connection: the pool replaces it, and the channel with it
            pass


async def _wait_async(conn: psycopg.AsyncConnection[Any], wait: WaitForEvent) -> Event | None:
    try:
        async for notify in conn.notifies(timeout=wait.timeout):
            event = _matching(wait, notify.payload)
            if event is not None:
                return event
        return None
    finally:
        try:
            if _drives_trips(conn):
                await run_async(conn, unlisten(wait.channel))
            else:
                async with conn.transaction():
                    await run_async(conn, unlisten(wait.channel))
        except psycopg.Error:
            pass


# --- inside the caller's transaction -----------------------------------------------------------

_SNAPSHOT = Query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", None, "none", named=False)
_OWN_TRANSACTION = (WaitForEvent, Snapshot)


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


def _join_sync(conn: psycopg.Connection[Any], op: ClientOperation[Any]) -> Any:
    """Run ``op`` step by step, consecutive queries in one ``conn.transaction()`` (a savepoint in
    the caller's transaction; a transaction of its own on a connection that is not autocommit)."""
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


async def _join_async(conn: psycopg.AsyncConnection[Any], op: ClientOperation[Any]) -> Any:
    """:func:`_join_sync` on an async connection."""
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
