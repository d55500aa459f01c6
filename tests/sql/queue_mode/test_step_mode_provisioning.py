import psycopg
import pytest

from tests.sql.helpers import compile_flow, listed_queues, rows, scalar


def test_step_mode_creates_exactly_one_queue_per_step_and_no_flow_queue(conn):
    result = compile_flow(conn, "Orders", [("fetch", []), ("save", ["fetch"])], "step")
    assert result == {"status": "compiled", "differences": [], "mismatchKind": None}
    assert scalar(conn, "SELECT queue_mode FROM pgflow.flows WHERE flow_slug = 'Orders'") == "step"
    assert rows(conn, "SELECT step_slug, queue_name FROM pgflow.steps ORDER BY step_index") == [
        {"step_slug": "fetch", "queue_name": "orders__fetch"}, {"step_slug": "save", "queue_name": "orders__save"}]
    assert listed_queues(conn) == ["orders__fetch", "orders__save"]


def test_compiling_the_same_step_mode_flow_again_verifies(conn):
    compile_flow(conn, "f", [("a", [])], "step")
    assert compile_flow(conn, "f", [("a", [])], "step")["status"] == "verified"


def test_add_step_refuses_a_step_mode_flow(conn):
    compile_flow(conn, "f", [("a", [])], "step")
    with pytest.raises(psycopg.Error, match='Flow "f" uses per-step queues: steps cannot be added incrementally.'):
        conn.execute("SELECT pgflow.add_step('f', 'b')")


def test_a_step_mode_flow_without_steps_is_refused(conn):
    with pytest.raises(psycopg.Error, match='Flow "f" cannot use per-step queues: it has no steps.'):
        compile_flow(conn, "f", [], "step")
