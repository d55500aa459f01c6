from tests.sql.helpers import define_flow, queue_messages, rows, scalar, start_flow, step_state


def test_step_with_start_delay_is_started_but_its_messages_stay_hidden(conn):
    define_flow(conn, "f", [("now", []), ("later", [], {"start_delay": 3600})])

    run_id = start_flow(conn, "f", {})

    assert step_state(conn, run_id, "later")["status"] == "started"
    hidden = {m["message"]["step_slug"]: m["vt"] for m in queue_messages(conn, "f")}
    now = scalar(conn, "SELECT clock_timestamp()")
    assert hidden["now"] <= now
    assert (hidden["later"] - now).total_seconds() > 3500
    readable = rows(conn, "SELECT message->>'step_slug' AS step FROM pgmq.read('f', 30, 10)")
    assert readable == [{"step": "now"}]
