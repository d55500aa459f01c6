"""A second force-skip of the same step changes nothing: no step, task, counter or message."""

from tests.sql.helpers import archived_messages, define_flow, queue_messages, rows, run_row, scalar, start_flow


def test_the_second_call_skips_nothing(conn):
    define_flow(conn, "f", [("a", []), ("b", []), ("b_child", ["b"])])
    run_id = start_flow(conn, "f", {})
    assert scalar(conn, "SELECT pgflow._cascade_force_skip_steps(%s, 'b', 'condition_unmet')", (run_id,)) == 2
    state = (rows(conn, "SELECT * FROM pgflow.step_states WHERE run_id = %s ORDER BY step_slug", (run_id,)),
             rows(conn, "SELECT * FROM pgflow.step_tasks WHERE run_id = %s ORDER BY step_slug", (run_id,)),
             run_row(conn, run_id), queue_messages(conn, "f"), archived_messages(conn, "f"))

    assert scalar(conn, "SELECT pgflow._cascade_force_skip_steps(%s, 'b', 'condition_unmet')", (run_id,)) == 0

    assert (rows(conn, "SELECT * FROM pgflow.step_states WHERE run_id = %s ORDER BY step_slug", (run_id,)),
            rows(conn, "SELECT * FROM pgflow.step_tasks WHERE run_id = %s ORDER BY step_slug", (run_id,)),
            run_row(conn, run_id), queue_messages(conn, "f"), archived_messages(conn, "f")) == state
