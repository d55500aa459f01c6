from datetime import timedelta

from tests.sql.helpers import define_flow, run_row
from tests.sql.start_flow_idempotent.helpers import DAY, end_run, start_keyed


def test_a_failed_run_keeps_its_key_within_the_ttl(conn):
    define_flow(conn, "f", [("a", [])])
    first = start_keyed(conn, "f", "k", ttl=DAY)
    end_run(conn, first, timedelta(hours=23))

    assert start_keyed(conn, "f", "k") == first


def test_after_the_ttl_the_key_starts_a_new_run_and_leaves_the_old_one(conn):
    define_flow(conn, "f", [("a", [])])
    first = start_keyed(conn, "f", "k", ttl=DAY)
    end_run(conn, first, timedelta(hours=25), status="completed")

    second = start_keyed(conn, "f", "k")

    assert second != first
    assert run_row(conn, first)["idempotency_key"] is None
    assert run_row(conn, first)["status"] == "completed"
    assert run_row(conn, second)["idempotency_key"] == "k"


def test_an_active_run_keeps_its_key_whatever_the_ttl(conn):
    define_flow(conn, "f", [("a", [])])
    first = start_keyed(conn, "f", "k", ttl=timedelta(0))
    conn.execute("UPDATE pgflow.runs SET started_at = now() - interval '30 days' WHERE run_id = %s", (first,))

    assert start_keyed(conn, "f", "k") == first


def test_a_null_ttl_keeps_the_key_forever(conn):
    define_flow(conn, "f", [("a", [])])
    first = start_keyed(conn, "f", "k", ttl=None)
    end_run(conn, first, timedelta(days=3650))

    assert start_keyed(conn, "f", "k") == first
    assert run_row(conn, first)["idempotency_ttl"] is None
