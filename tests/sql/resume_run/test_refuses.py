import uuid

import psycopg
import pytest

from tests.sql.helpers import (
    add_step, complete_task, define_flow, fail_task, read_and_start, register_worker, run_row, scalar, start_flow,
)
from tests.sql.resume_run.helpers import queued, resume_run


def _runs(conn):
    return scalar(conn, "SELECT count(*) FROM pgflow.runs")


def test_a_running_run_is_refused(conn):
    define_flow(conn, "f", [("a", [])])
    run_id = start_flow(conn, "f")

    with pytest.raises(psycopg.Error) as raised:
        resume_run(conn, run_id)

    assert raised.value.sqlstate == "PF005"
    assert f"nothing to resume: run {run_id} is started" in str(raised.value)


def test_a_completed_run_is_refused(conn):
    define_flow(conn, "f", [("a", [])])
    run_id = start_flow(conn, "f")
    read_and_start(conn, "f", register_worker(conn, "f"))
    complete_task(conn, run_id, "a", 0, 1)

    with pytest.raises(psycopg.Error) as raised:
        resume_run(conn, run_id)

    assert raised.value.sqlstate == "PF005"
    assert "is completed" in str(raised.value)


def test_an_unknown_run_is_not_found(conn):
    with pytest.raises(psycopg.Error) as raised:
        resume_run(conn, uuid.uuid4())

    assert raised.value.sqlstate == "PF002"


def _failed_then_changed(conn):
    define_flow(conn, "f", [("a", []), ("b", ["a"])], max_attempts=1)
    original = start_flow(conn, "f", {})
    worker = register_worker(conn, "f")
    read_and_start(conn, "f", worker)
    complete_task(conn, original, "a", 0, 1)
    read_and_start(conn, "f", worker)
    fail_task(conn, original, "b", 0, "boom")
    add_step(conn, "f", "c", ["a"])
    return original


def test_a_changed_definition_is_refused_and_nothing_is_written(conn):
    original = _failed_then_changed(conn)
    before = _runs(conn)

    with pytest.raises(psycopg.Error) as raised:
        conn.execute("SAVEPOINT s")
        resume_run(conn, original)
    conn.execute("ROLLBACK TO SAVEPOINT s")

    assert raised.value.sqlstate == "PF005"
    assert "changed since it ran (steps c)" in str(raised.value)
    assert _runs(conn) == before


def test_a_changed_definition_is_resumed_with_force(conn):
    original = _failed_then_changed(conn)

    resumed = resume_run(conn, original, force=True)

    assert run_row(conn, resumed)["retry_of"] == original
    assert queued(conn, resumed) == [("b", 0), ("c", 0)]
