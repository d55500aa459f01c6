import psycopg
import pytest

from tests.sql.helpers import define_flow, start_flow


def test_two_runs_of_a_flow_cannot_hold_one_key_whoever_writes_them(conn):
    define_flow(conn, "f", [("a", [])])
    first, second = start_flow(conn, "f"), start_flow(conn, "f")
    conn.execute("UPDATE pgflow.runs SET idempotency_key = 'k' WHERE run_id = %s", (first,))

    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("UPDATE pgflow.runs SET idempotency_key = 'k' WHERE run_id = %s", (second,))


def test_a_start_without_a_key_stores_none(conn):
    define_flow(conn, "f", [("a", [])])
    run_id = start_flow(conn, "f")

    stored = conn.execute("SELECT idempotency_key, idempotency_ttl, retry_of FROM pgflow.runs WHERE run_id = %s",
                          (run_id,)).fetchone()
    assert stored == (None, None, None)
