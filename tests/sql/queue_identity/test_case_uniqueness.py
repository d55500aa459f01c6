import psycopg
import pytest

from tests.sql.helpers import add_step, define_flow


def test_a_flow_slug_differing_only_in_case_is_refused(conn):
    define_flow(conn, "Orders", [("a", [])])
    with pytest.raises(psycopg.errors.UniqueViolation, match='flow "Orders" differs from it only in case'):
        conn.execute("SELECT pgflow.create_flow('orders')")


def test_a_step_slug_differing_only_in_case_is_refused(conn):
    define_flow(conn, "f", [("fetch", [])])
    with pytest.raises(psycopg.Error, match="differs from step fetch only in case") as caught:
        add_step(conn, "f", "Fetch")
    assert caught.value.sqlstate == "PF004"
