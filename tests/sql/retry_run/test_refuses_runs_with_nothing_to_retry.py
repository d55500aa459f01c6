import uuid

import psycopg
import pytest

from tests.sql.helpers import complete_task, define_flow, read_and_start, register_worker, start_flow
from tests.sql.retry_run.helpers import retry_run


def test_a_running_run_is_refused(conn):
    define_flow(conn, "f", [("a", [])])
    run_id = start_flow(conn, "f")

    with pytest.raises(psycopg.Error) as raised:
        retry_run(conn, run_id)

    assert raised.value.sqlstate == "PF005"
    assert f"nothing to retry: run {run_id} is started" in str(raised.value)


def test_a_completed_run_is_refused(conn):
    define_flow(conn, "f", [("a", [])])
    run_id = start_flow(conn, "f")
    read_and_start(conn, "f", register_worker(conn, "f"))
    complete_task(conn, run_id, "a", 0, 1)

    with pytest.raises(psycopg.Error) as raised:
        retry_run(conn, run_id)

    assert raised.value.sqlstate == "PF005"
    assert "is completed" in str(raised.value)


def test_an_unknown_run_is_not_found(conn):
    with pytest.raises(psycopg.Error) as raised:
        retry_run(conn, uuid.uuid4())

    assert raised.value.sqlstate == "PF002"
