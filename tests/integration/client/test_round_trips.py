"""What a client call costs on the wire, and what the driver's few-trip transactions keep:
all or nothing, rollback on errors, a clean pooled connection.

Round trips are counted in libpq's protocol trace of the pool's only connection: one per turn
from the client sending to the server answering (pipelined statements share one turn).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import pq
from psycopg_pool import AsyncConnectionPool, ConnectionPool

import pgflow
from pgflow.db import Operation, Query
from pgflow.db import drive_async, drive_sync

from .conftest import two_step_flow


def turns(trace: str) -> int:
    """Round trips in a libpq trace: each run of F (frontend) messages answered by B (backend) ones."""
    count, previous = 0, None
    for line in trace.splitlines():
        direction = line[:1]
        if direction == "B" and previous == "F":
            count += 1
        if direction in ("F", "B"):
            previous = direction
    return count


@pytest.fixture
def pool(db_url: str) -> Iterator[ConnectionPool]:
    """One autocommit connection, so every call of a client on it is seen by the trace."""
    with ConnectionPool(db_url, min_size=1, max_size=1, kwargs={"autocommit": True}) as pool:
        yield pool


@pytest.fixture
def client(pool: ConnectionPool) -> Iterator[pgflow.Client]:
    with pgflow.Client(pool=pool) as client:
        yield client


def round_trips(pool: ConnectionPool, call: Callable[[], Any]) -> int:
    """Round trips of ``call``, run once before unmeasured (type loading, statement preparing)."""
    call()
    with tempfile.TemporaryFile() as trace:
        with pool.connection() as conn:
            conn.pgconn.trace(trace.fileno())
            conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            call()
        finally:
            with pool.connection() as conn:
                conn.pgconn.untrace()
        trace.seek(0)
        return turns(trace.read().decode(errors="replace"))


def skipped_at_once() -> pgflow.Flow:
    """A flow whose only step is skipped for input {"go": false}: the run ends inside start_flow."""
    flow = pgflow.Flow("skipped_at_once")

    @flow.step(if_={"go": True}, when_unmet="skip")
    def only(input):
        return 1

    return flow


def test_the_pipeline_helper_counts_what_it_should(pool: ConnectionPool) -> None:
    def three_statements() -> None:
        with pool.connection() as conn:
            conn.execute("BEGIN")
            conn.execute("SELECT 1")
            conn.execute("COMMIT")

    assert round_trips(pool, three_statements) == 3


@pytest.mark.parametrize("call", ["start_flow", "enqueue", "get_run", "get_run_with_states", "get_run (started)",
                                  "get_run_with_states (started)", "list_runs", "get_flow", "health_check"])
def test_a_one_statement_call_costs_one_round_trip(client: pgflow.Client, pool: ConnectionPool, call: str) -> None:
    flow = two_step_flow()
    client.compile(flow)
    ended = skipped_at_once()
    client.compile(ended)
    run_id = client.start_flow(ended, {"go": False})  # over
    waiting = client.start_flow(flow, {"n": 1})  # started, its first task queued: due times come along
    calls: dict[str, Callable[[], Any]] = {
        "start_flow": lambda: client.start_flow(flow, {"n": 1}),
        "enqueue": lambda: client.enqueue(flow, {"n": 1}, delay_seconds=60),
        "get_run": lambda: client.get_run(run_id),
        "get_run_with_states": lambda: client.get_run_with_states(run_id),  # one snapshot, pipelined
        "get_run (started)": lambda: client.get_run(waiting),
        "get_run_with_states (started)": lambda: client.get_run_with_states(waiting),
        "list_runs": lambda: client.list_runs(flow),
        "get_flow": lambda: client.get_flow(flow),
        "health_check": lambda: client.health_check(),
    }
    assert round_trips(pool, calls[call]) == 1


@pytest.mark.parametrize("call", ["get_run", "get_run_with_states"])
def test_reading_a_run_enqueued_for_later_says_when_it_is_due_in_the_same_round_trip(
        client: pgflow.Client, pool: ConnectionPool, call: str) -> None:
    flow = two_step_flow()
    client.compile(flow)
    run_id = client.enqueue(flow, {"n": 1}, delay_seconds=60)  # one queue holds its hidden task
    assert round_trips(pool, lambda: getattr(client, call)(run_id)) == 1
    assert getattr(client, call)(run_id).due_at is not None


def test_compile_costs_two_round_trips(client: pgflow.Client, pool: ConnectionPool) -> None:
    flow = two_step_flow()
    assert round_trips(pool, lambda: client.compile(flow)) == 2  # BEGIN + compile, flow type + COMMIT


def test_start_flow_sync_of_a_run_ending_at_once_costs_two_round_trips(client: pgflow.Client,
                                                                       pool: ConnectionPool) -> None:
    flow = skipped_at_once()
    client.compile(flow)
    assert client.start_flow_sync(flow, {"go": False}, timeout=5).status == "completed"
    # listen + start together; then stop listening, committed, and read the run in one snapshot
    assert round_trips(pool, lambda: client.start_flow_sync(flow, {"go": False}, timeout=5)) == 2
    with pool.connection() as conn:
        assert conn.execute("SELECT pg_listening_channels()").fetchall() == []


def test_a_failing_call_raises_its_pgflow_error_and_leaves_the_pooled_connection_clean(
        client: pgflow.Client, pool: ConnectionPool) -> None:
    with pytest.raises(pgflow.FlowNotFound):
        client.start_flow("no_such_flow", {})
    with pytest.raises(pgflow.RunNotFound):
        client.get_run("3f2a9c1e-0b7d-4c55-9d0e-6a1b2c3d4e5f")
    with pool.connection() as conn:
        assert conn.info.transaction_status == pq.TransactionStatus.IDLE
    flow = two_step_flow()
    client.compile(flow)
    assert client.get_run(client.start_flow(flow, {"n": 1})).status == "started"


def test_start_flow_sync_of_a_missing_flow_leaves_no_listen_behind(client: pgflow.Client,
                                                                   pool: ConnectionPool) -> None:
    with pytest.raises(pgflow.FlowNotFound):
        client.start_flow_sync("no_such_flow", {}, timeout=1)
    with pool.connection() as conn:
        assert conn.info.transaction_status == pq.TransactionStatus.IDLE
        assert conn.execute("SELECT pg_listening_channels()").fetchall() == []


# --- transactions of the driver, with operations written for the test --------------------------

def _sql(text: str, params: tuple[Any, ...], fetch: Any = "one") -> Query:
    return Query(text, params, fetch, named=False)


def _create(slug: str, fetch: Any = "one") -> Query:
    return _sql("SELECT pgflow.create_flow(%s)", (slug,), fetch)


_FAIL = _sql("SELECT 1 / 0 WHERE %s", (True,))


def _exists(conn: psycopg.Connection[Any], slug: str) -> bool:
    return conn.execute("SELECT EXISTS (SELECT FROM pgflow.flows WHERE flow_slug = %s)", (slug,)).fetchone() == (True,)


def waits_then_fails() -> Operation[None]:
    yield _create("waited", fetch="none")  # no result read: goes with the next statement
    yield _FAIL.and_commit()


def begins_then_fails() -> Operation[None]:
    yield _create("begun")  # a result read: BEGIN goes with it
    yield _FAIL


def begins_then_raises() -> Operation[None]:
    yield _create("begun")
    raise pgflow.InvalidInput("changed my mind")


def two_in_one_transaction() -> Operation[None]:
    yield _create("first")
    yield _create("second").and_commit()


@pytest.mark.parametrize("op", [waits_then_fails, begins_then_fails, begins_then_raises])
def test_nothing_of_a_failing_operation_commits_and_the_connection_stays_usable(db_url: str, op: Any) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        with pytest.raises((psycopg.errors.DivisionByZero, pgflow.InvalidInput)):
            drive_sync(conn, op())
        assert conn.info.transaction_status == pq.TransactionStatus.IDLE
        assert not _exists(conn, "waited") and not _exists(conn, "begun")
        drive_sync(conn, two_in_one_transaction())
        assert _exists(conn, "first") and _exists(conn, "second")


async def test_the_async_driver_rolls_back_the_same_way(db_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        for op in (waits_then_fails, begins_then_fails, begins_then_raises):
            with pytest.raises((psycopg.errors.DivisionByZero, pgflow.InvalidInput)):
                await drive_async(conn, op())
            assert conn.info.transaction_status == pq.TransactionStatus.IDLE
        await drive_async(conn, two_in_one_transaction())
        found = await (await conn.execute("SELECT array_agg(flow_slug ORDER BY flow_slug) FROM pgflow.flows "
                                          "WHERE flow_slug IN ('waited', 'begun', 'first', 'second')")).fetchone()
        assert found is not None and found[0] == ["first", "second"]


async def test_the_async_client_costs_one_round_trip_per_start(db_url: str) -> None:
    flow = two_step_flow()
    async with AsyncConnectionPool(db_url, min_size=1, max_size=1, kwargs={"autocommit": True}) as pool:
        async with pgflow.AsyncClient(pool=pool) as client:
            await client.compile(flow)
            await client.start_flow(flow, {"n": 1})
            with tempfile.TemporaryFile() as trace:
                async with pool.connection() as conn:
                    conn.pgconn.trace(trace.fileno())
                    conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
                try:
                    await client.start_flow(flow, {"n": 1})
                finally:
                    async with pool.connection() as conn:
                        conn.pgconn.untrace()
                trace.seek(0)
                assert turns(trace.read().decode(errors="replace")) == 1


def test_a_client_on_a_pool_without_autocommit_still_commits(db_url: str) -> None:
    flow = two_step_flow()
    with ConnectionPool(db_url, min_size=1, max_size=1) as pool, pgflow.Client(pool=pool) as client:
        client.compile(flow)
        run_id = client.start_flow(flow, {"n": 1})
    with pgflow.Client(db_url) as other:
        assert other.get_run(run_id).status == "started"
