"""pgflow.db.planner stepped without a database: the round trips an operation becomes, the
transactions around them, and what happens when a statement or the operation fails."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import psycopg
import pytest
from psycopg.pq import TransactionStatus

from pgflow.db import Query, Snapshot, WaitForEvent, listen, unlisten
from pgflow.db.planner import ASK_STATE, ConnState, Request, plan

IDLE, INTRANS, INERROR = TransactionStatus.IDLE, TransactionStatus.INTRANS, TransactionStatus.INERROR
POOLED = ConnState(autocommit=True, status=IDLE, pipeline=True)  # a pool's connection: the plan owns transactions
CALLERS = ConnState(autocommit=False, status=INTRANS, pipeline=True)  # inside the caller's transaction


def sql(request: Request) -> Any:
    """A request as the test reads it: a trip as its statements' labels, others as they are."""
    return tuple(q.label if q.named else q.sql for q in request) if isinstance(request, tuple) else request


class Connection:
    """Answers a plan's requests as a connection would, and records them."""

    def __init__(self, state: ConnState, *, fail: str | None = None, event: object = None) -> None:
        self.state = state
        self.fail = fail  # the label of a statement that raises
        self.event = event  # what a wait receives
        self.requests: list[Any] = []

    def answer(self, request: Request) -> Any:
        self.requests.append(sql(request))
        if request is ASK_STATE:
            return self.state
        if isinstance(request, WaitForEvent):
            return self.event
        assert isinstance(request, tuple)
        labels = [q.label for q in request]
        if self.fail in labels:
            self.state = ConnState(self.state.autocommit, INERROR, True) if "BEGIN" in labels \
                or self.state.status != IDLE else self.state
            raise psycopg.errors.RaiseException(f"{self.fail} failed")
        for q in request:  # what the statements do to the transaction status
            if q.sql in ("BEGIN", "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"):
                self.state = ConnState(self.state.autocommit, INTRANS, True)
            elif q.sql in ("COMMIT", "ROLLBACK"):
                self.state = ConnState(self.state.autocommit, IDLE, True)
        return [None if q.fetch == "none" else f"result of {q.label}" for q in request]

    def run(self, op: Generator[Any, Any, Any]) -> Any:
        """What a driver does: perform each request, throw its error back into the plan."""
        steps = plan(op)
        try:
            request = next(steps)
            while True:
                try:
                    reply = self.answer(request)
                except BaseException as exc:
                    request = steps.throw(exc)
                else:
                    request = steps.send(reply)
        except StopIteration as stop:
            return stop.value

    @property
    def trips(self) -> list[Any]:
        return [r for r in self.requests if r is not ASK_STATE]


def operation(*steps: Any, then: Callable[[list[Any]], Any] = list) -> Generator[Any, Any, Any]:
    received = []
    for step in steps:
        received.append((yield step))
    return then(received)


def test_a_one_statement_operation_is_one_round_trip_without_begin() -> None:
    conn = Connection(POOLED)
    result = conn.run(operation(Query.one("start_flow", flow_slug="f").and_commit()))
    assert conn.trips == [("start_flow",)]
    assert result == ["result of start_flow"]


def test_a_read_then_a_committing_query_is_two_trips_with_begin_and_commit_riding_along() -> None:
    conn = Connection(POOLED)
    result = conn.run(operation(Query.one("get_run"), Query.execute("complete_task").and_commit()))
    assert conn.trips == [("BEGIN", "get_run"), ("complete_task", "COMMIT")]
    assert result == ["result of get_run", "result of complete_task"]


def test_statements_whose_result_is_not_read_wait_for_the_next_trip() -> None:
    conn = Connection(POOLED)
    conn.run(operation(listen("pgflow:run:1"), Query.one("start_flow").and_commit()))
    assert conn.trips == [("events_subscribe", "start_flow")]


def test_queries_without_a_commit_mark_are_committed_after_the_operation() -> None:
    conn = Connection(POOLED)
    conn.run(operation(Query.one("get_run"), Query.all("get_steps")))
    assert conn.trips == [("BEGIN", "get_run"), ("get_steps",), ("COMMIT",)]


def test_a_snapshot_is_one_trip_in_a_read_only_repeatable_read_transaction() -> None:
    conn = Connection(POOLED)
    result = conn.run(operation(Snapshot((Query.one("get_run"), Query.all("get_steps")))))
    assert conn.trips == [("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", "get_run", "get_steps", "COMMIT")]
    assert result == [["result of get_run", "result of get_steps"]]


def test_a_snapshot_commits_what_came_before_in_the_same_trip() -> None:
    conn = Connection(POOLED)
    conn.run(operation(Query.one("get_run"), Snapshot((Query.all("get_steps"),))))
    assert conn.trips == [("BEGIN", "get_run"),
                          ("COMMIT", "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", "get_steps", "COMMIT")]


def wait() -> WaitForEvent:
    return WaitForEvent("pgflow:run:1", until=lambda event: True, timeout=5)


def test_a_wait_listens_with_the_start_then_waits_then_unlistens() -> None:
    conn = Connection(POOLED, event="the end")
    waiting = wait()
    result = conn.run(operation(listen("pgflow:run:1"), Query.one("start_flow").and_commit(), waiting))
    assert conn.trips == [("events_subscribe", "start_flow"), waiting, ("events_unsubscribe",)]
    assert result[-1] == "the end"


def test_a_wait_commits_the_open_transaction_first() -> None:
    conn = Connection(POOLED)
    waiting = wait()
    conn.run(operation(Query.one("get_run"), waiting))
    assert conn.trips == [("BEGIN", "get_run"), ("COMMIT",), waiting, ("events_unsubscribe",)]


def test_a_failed_wait_still_unlistens_and_raises() -> None:
    class Interrupted(Exception):
        pass

    conn = Connection(POOLED)
    original = conn.answer

    def answer(request: Request) -> Any:
        if isinstance(request, WaitForEvent):
            conn.requests.append(request)
            raise Interrupted
        return original(request)

    conn.answer = answer  # type: ignore[method-assign]
    with pytest.raises(Interrupted):
        conn.run(operation(listen("c"), Query.one("start_flow").and_commit(), wait()))
    assert conn.trips[-1] == ("events_unsubscribe",)


def test_a_failed_statement_inside_a_transaction_is_rolled_back() -> None:
    conn = Connection(POOLED, fail="complete_task")
    with pytest.raises(psycopg.errors.RaiseException):
        conn.run(operation(Query.one("get_run"), Query.execute("complete_task").and_commit()))
    assert conn.trips == [("BEGIN", "get_run"), ("complete_task", "COMMIT"), ("ROLLBACK",)]


def test_an_operation_that_raises_mid_transaction_commits_nothing() -> None:
    def refuses(results: list[Any]) -> Any:
        raise LookupError("no such run")

    conn = Connection(POOLED)
    with pytest.raises(LookupError):
        conn.run(operation(Query.one("get_run"), then=refuses))
    assert conn.trips == [("BEGIN", "get_run"), ("ROLLBACK",)]


def test_a_failed_autocommit_statement_needs_no_rollback() -> None:
    conn = Connection(POOLED, fail="start_flow")
    with pytest.raises(psycopg.errors.RaiseException):
        conn.run(operation(Query.one("start_flow").and_commit()))
    assert conn.trips == [("start_flow",)]


def test_inside_the_callers_transaction_queries_run_one_per_trip_in_a_savepoint() -> None:
    conn = Connection(CALLERS)
    result = conn.run(operation(listen("c"), Query.one("start_flow").and_commit(), Query.one("get_run")))
    assert conn.trips == [("SAVEPOINT pgflow_op",), ("events_subscribe",), ("start_flow",), ("get_run",),
                          ("RELEASE SAVEPOINT pgflow_op",)]
    assert result == [None, "result of start_flow", "result of get_run"]


def test_a_failure_inside_the_callers_transaction_rolls_back_to_the_savepoint_only() -> None:
    conn = Connection(CALLERS, fail="get_run")
    with pytest.raises(psycopg.errors.RaiseException):
        conn.run(operation(Query.one("start_flow"), Query.one("get_run")))
    assert conn.trips == [("SAVEPOINT pgflow_op",), ("start_flow",), ("get_run",),
                          ("ROLLBACK TO SAVEPOINT pgflow_op; RELEASE SAVEPOINT pgflow_op",)]


def test_a_snapshot_inside_the_callers_transaction_reads_in_that_transaction() -> None:
    conn = Connection(CALLERS)
    result = conn.run(operation(Snapshot((Query.one("get_run"),))))
    assert conn.trips == [("SAVEPOINT pgflow_op",), ("get_run",), ("RELEASE SAVEPOINT pgflow_op",)]
    assert result == [["result of get_run"]]


def test_a_wait_inside_the_callers_transaction_unlistens_in_a_savepoint() -> None:
    conn = Connection(CALLERS, event="the end")
    waiting = wait()
    result = conn.run(operation(waiting))
    assert conn.trips == [waiting, ("SAVEPOINT pgflow_op",), ("events_unsubscribe",), ("RELEASE SAVEPOINT pgflow_op",)]
    assert result == ["the end"]


def test_on_an_idle_connection_that_is_not_autocommit_psycopg_begins_and_the_plan_commits() -> None:
    conn = Connection(ConnState(autocommit=False, status=IDLE, pipeline=True))
    conn.run(operation(Query.one("get_run"), Query.all("get_steps")))
    assert conn.trips == [("get_run",), ("get_steps",), ("COMMIT",)]


def test_a_snapshot_on_an_idle_connection_that_cannot_pipeline_sets_its_isolation_first() -> None:
    conn = Connection(ConnState(autocommit=True, status=IDLE, pipeline=False))
    conn.run(operation(Snapshot((Query.one("get_run"), Query.all("get_steps")))))
    assert conn.trips == [("BEGIN",), ("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",),
                          ("get_run",), ("get_steps",), ("COMMIT",)]


def test_a_lone_committing_script_runs_alone_in_autocommit() -> None:
    script = Query("CREATE TABLE t (); CREATE TABLE u ()", None, "none", named=False).and_commit()
    conn = Connection(POOLED)
    conn.run(operation(script))
    assert conn.trips == [("CREATE TABLE t (); CREATE TABLE u ()",)]


def test_a_script_within_an_operation_goes_alone_inside_the_transaction() -> None:
    script = Query("CREATE TABLE t (); CREATE TABLE u ()", None, "none", named=False)
    conn = Connection(POOLED)
    conn.run(operation(Query.execute("ledger_create"), script, Query.execute("ledger_insert").and_commit()))
    assert conn.trips == [("BEGIN", "ledger_create"), ("CREATE TABLE t (); CREATE TABLE u ()",),
                          ("ledger_insert", "COMMIT")]


def test_unlisten_is_the_pair_of_listen() -> None:
    assert (listen("c").label, unlisten("c").label) == ("events_subscribe", "events_unsubscribe")
