from tests.sql.helpers import complete_task, define_flow, start_flow


def test_unknown_task_returns_no_row(conn):
    define_flow(conn, "chain", [("first", [])])
    run_id = start_flow(conn, "chain", {})
    assert complete_task(conn, run_id, "first", 5, 1) == []
    assert complete_task(conn, run_id, "nope", 0, 1) == []
