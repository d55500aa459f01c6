from tests.sql.helpers import define_flow, mark_step_completed, queue_messages, scalar, set_step_state, start_flow


def test_messages_of_a_delayed_step_become_visible_after_its_start_delay(conn):
    define_flow(conn, "f", [("a", []), ("later", ["a"], {"start_delay": 120})])
    run_id = start_flow(conn, "f", {})
    mark_step_completed(conn, run_id, "a", 1)
    set_step_state(conn, run_id, "later", remaining_deps=0)

    before = scalar(conn, "SELECT clock_timestamp()")
    conn.execute("SELECT pgflow.start_ready_steps(%s)", (run_id,))
    after = scalar(conn, "SELECT clock_timestamp()")

    [vt] = [m["vt"] for m in queue_messages(conn, "f") if m["message"]["step_slug"] == "later"]
    assert before.timestamp() + 120 <= vt.timestamp() <= after.timestamp() + 120
