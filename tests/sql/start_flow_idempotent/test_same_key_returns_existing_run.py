from tests.sql.helpers import define_flow, run_row, scalar
from tests.sql.start_flow_idempotent.helpers import start_keyed


def test_a_second_start_with_the_key_returns_the_first_run(conn):
    define_flow(conn, "f", [("a", [])])
    first = start_keyed(conn, "f", "order-42", {"n": 1})
    second = start_keyed(conn, "f", "order-42", {"n": 2})

    assert second == first
    assert scalar(conn, "SELECT count(*) FROM pgflow.runs WHERE flow_slug = 'f'") == 1
    assert scalar(conn, "SELECT count(*) FROM pgflow.step_tasks WHERE run_id = %s", (first,)) == 1
    assert run_row(conn, first)["input"] == {"n": 1}
    assert run_row(conn, first)["idempotency_key"] == "order-42"


def test_the_same_key_in_another_flow_is_another_run(conn):
    define_flow(conn, "f", [("a", [])])
    define_flow(conn, "g", [("a", [])])

    assert start_keyed(conn, "f", "k") != start_keyed(conn, "g", "k")


def test_other_keys_are_other_runs(conn):
    define_flow(conn, "f", [("a", [])])

    assert start_keyed(conn, "f", "k1") != start_keyed(conn, "f", "k2")
