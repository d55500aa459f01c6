"""The sans-I/O planner: an operation's steps as the requests a driver performs, and no I/O.

:func:`plan` turns an operation (see :mod:`pgflow.db.operation`) into a generator of requests:

- a :data:`Trip` (a tuple of queries): send them together, one round trip; the answer is the
  list of their results;
- a :class:`~pgflow.db.operation.WaitForEvent`: wait on the connection's notifications; the
  answer is the matching event, or ``None`` on timeout;
- :data:`ASK_STATE`: the answer is the connection's :class:`ConnState`.

When a request fails, the driver throws the error into the plan (``generator.throw``), which
decides what follows (a ROLLBACK, an UNLISTEN) and re-raises it. Everything about transactions
lives here, once: which statements share a round trip, BEGIN/COMMIT, savepoints in the
caller's transaction, snapshots, waiting, rollback on failure. The drivers
(:mod:`pgflow.db.driver`) only perform the requests.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from typing import Any, Final, NamedTuple

import psycopg
from psycopg.pq import TransactionStatus

from pgflow.db.operation import ClientOperation, Query, Snapshot, WaitForEvent, unlisten

Trip = tuple[Query, ...]
"""Statements sent together, answered together: one round trip."""


class ConnState(NamedTuple):
    """What the plan needs to know of a connection."""

    autocommit: bool
    status: TransactionStatus
    pipeline: bool  # libpq can pipeline (psycopg.Pipeline.is_supported())

    @property
    def idle(self) -> bool:
        return self.status == TransactionStatus.IDLE

    @property
    def in_transaction(self) -> bool:
        return self.status in (TransactionStatus.INTRANS, TransactionStatus.INERROR)

    @property
    def drives_trips(self) -> bool:
        """The plan owns the transactions: an autocommit connection outside a transaction (a
        pool's, as pgflow opens them). Else the caller's transaction is joined (savepoints)."""
        return self.autocommit and self.idle and self.pipeline


class AskState:
    """The request for the connection's :class:`ConnState`."""


ASK_STATE: Final = AskState()

Request = Trip | WaitForEvent | AskState
Plan = Generator[Request, Any, Any]


def _sql(text: str) -> Query:
    return Query(text, None, "none", named=False)


_BEGIN = _sql("BEGIN")
_BEGIN_SNAPSHOT = _sql("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
_SET_SNAPSHOT = _sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
_COMMIT = _sql("COMMIT")
_ROLLBACK = _sql("ROLLBACK")
_SAVEPOINT = _sql("SAVEPOINT pgflow_op")
_RELEASE = _sql("RELEASE SAVEPOINT pgflow_op")
_ROLLBACK_TO = _sql("ROLLBACK TO SAVEPOINT pgflow_op; RELEASE SAVEPOINT pgflow_op")

_DONE = object()


def _advance(op: ClientOperation[Any], value: Any) -> tuple[Any, Any]:
    try:
        return op.send(value), None
    except StopIteration as stop:
        return _DONE, stop.value


def plan(op: ClientOperation[Any]) -> Plan:
    """The requests that run ``op``; the plan's return value is the operation's."""
    state = yield ASK_STATE
    if state.drives_trips:
        return (yield from _rolled_back_on_failure(_trips(op)))
    return (yield from _joined(op, state))


def _quietly(trip: Trip) -> Plan:
    """``trip``, its database error ignored (a broken connection: the pool replaces it)."""
    try:
        yield trip
    except psycopg.Error:
        pass


def _rolled_back_on_failure(body: Plan) -> Plan:
    """``body``; when it fails (a statement or the operation itself) and leaves a transaction
    open, nothing of it commits."""
    try:
        return (yield from body)
    except GeneratorExit:
        raise
    except BaseException:
        state = yield ASK_STATE
        if state.in_transaction:
            yield from _quietly((_ROLLBACK,))
        raise


def _wait(wait: WaitForEvent, joined: ConnState | None) -> Plan:
    """Wait for the event, then UNLISTEN (in autocommit, or in a block of its own when ``joined``)."""
    stop = (unlisten(wait.channel),)
    try:
        event = yield wait
    except GeneratorExit:
        raise
    except BaseException:
        yield from (_quietly(stop) if joined is None else _quiet_block(joined, stop))
        raise
    yield from (_quietly(stop) if joined is None else _quiet_block(joined, stop))
    return event


# --- on an autocommit connection: the plan owns the transactions -------------------------------


def _script(query: Query) -> bool:
    """SQL text without parameters may hold several statements (a migration, pgmq's install): it
    runs alone, by the simple query protocol. Named queries are one statement each, and so are
    the ``psycopg.sql`` compositions of this package (``LISTEN {}``)."""
    return isinstance(query.sql, str) and not query.named and query.params is None


def _trips(op: ClientOperation[Any]) -> Plan:
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
            alone = step.commits and not begun and not waiting  # its own transaction: autocommit
            if not alone and (waiting or not begun):
                yield (*waiting,) if begun else (_BEGIN, *waiting)
                waiting, begun = [], True
            (result,) = yield (step,)
            if step.commits and not alone:
                yield (_COMMIT,)
            begun = begun and not step.commits
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
        step, value = _advance(op, (yield from _wait(step, None)))
    ending = to_commit()
    if ending:
        yield ending
    return value


# --- inside the caller's transaction: one statement per trip, in blocks -----------------------


def _block(state: ConnState, body: Plan) -> Plan:
    """``body`` in a block of its own, as psycopg's ``conn.transaction()`` makes it: on an idle
    connection a transaction (psycopg itself sends the BEGIN on a connection that is not
    autocommit), inside the caller's transaction a savepoint; rolled back when ``body`` fails."""
    if state.idle:
        begin: Trip = (_BEGIN,) if state.autocommit else ()
        end, undo = _COMMIT, _ROLLBACK
    else:
        begin, end, undo = (_SAVEPOINT,), _RELEASE, _ROLLBACK_TO
    if begin:
        yield begin
    try:
        result = yield from body
    except GeneratorExit:
        raise
    except BaseException:
        yield from _quietly((undo,))
        raise
    yield (end,)
    return result


def _each(queries: Iterable[Query]) -> Plan:
    """``queries`` one per trip; returns their results."""
    results = []
    for q in queries:
        (result,) = yield (q,)
        results.append(result)
    return results


def _quiet_block(state: ConnState, queries: Trip) -> Plan:
    try:
        yield from _block(state, _each(queries))
    except psycopg.Error:
        pass


def _stretch(op: ClientOperation[Any], step: Any) -> Plan:
    """``op``'s consecutive queries from ``step`` on, one per trip; returns the next step and value."""
    value = None
    while isinstance(step, Query):
        (result,) = yield (step,)
        step, value = _advance(op, result)
    return step, value


def _joined(op: ClientOperation[Any], state: ConnState) -> Plan:
    """``op`` on a connection whose transaction is the caller's, or that is not autocommit, or
    cannot pipeline: consecutive queries in one :func:`_block`, each step as it comes."""
    step, value = _advance(op, None)
    while step is not _DONE:
        if isinstance(step, WaitForEvent):
            step, value = _advance(op, (yield from _wait(step, state)))
        elif isinstance(step, Snapshot):
            queries = (_SET_SNAPSHOT, *step.queries) if state.idle else step.queries
            results = yield from _block(state, _each(queries))
            step, value = _advance(op, results[len(results) - len(step.queries):])
        else:
            step, value = yield from _block(state, _stretch(op, step))
    return value
