from psycopg import sql

from tests.sql.helpers import define_flow, read_and_start, register_worker, scalar, start_flow


def test_removes_definition_runs_and_queue_of_that_flow_only(conn):
    define_flow(conn, "gone", [("a", []), ("b", ["a"])])
    define_flow(conn, "kept", [("a", [])])
    worker = register_worker(conn, "gone")
    start_flow(conn, "gone", {})
    start_flow(conn, "kept", {})
    read_and_start(conn, "gone", worker)

    conn.execute("SELECT pgflow.delete_flow_and_data('gone')")

    for table in ("flows", "steps", "deps", "runs", "step_states", "step_tasks"):
        query = sql.SQL("SELECT count(*) FROM pgflow.{} WHERE flow_slug = 'gone'").format(sql.Identifier(table))
        assert scalar(conn, query) == 0, table
    assert scalar(conn, "SELECT count(*) FROM pgmq.list_queues() WHERE queue_name = 'gone'") == 0
    assert scalar(conn, "SELECT to_regclass('pgmq.q_gone')") is None
    assert scalar(conn, "SELECT count(*) FROM pgflow.runs WHERE flow_slug = 'kept'") == 1


def test_unknown_flow_is_a_no_op(conn):
    define_flow(conn, "kept", [("a", [])])
    start_flow(conn, "kept", {})
    conn.execute("SELECT pgflow.delete_flow_and_data('never_defined')")
    assert scalar(conn, "SELECT count(*) FROM pgflow.runs WHERE flow_slug = 'kept'") == 1
