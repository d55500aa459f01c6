from tests.sql.helpers import (archived_messages, complete_task, define_flow, listed_queues, read_and_start,
                               register_worker, run_row, scalar, start_flow, task)


def test_a_mixed_case_flow_lives_in_its_lower_case_queue_from_start_to_delete(conn):
    define_flow(conn, "MixedCase", [("a", [])])
    assert listed_queues(conn) == ["mixedcase"]
    assert scalar(conn, "SELECT queue_name FROM pgflow.steps WHERE flow_slug = 'MixedCase'") == "mixedcase"
    run_id = start_flow(conn, "MixedCase")
    assert task(conn, run_id, "a")["queue_name"] == "mixedcase"

    claimed = read_and_start(conn, "MixedCase", register_worker(conn, "mixedcase"))
    assert [t["step_slug"] for t in claimed] == ["a"]
    complete_task(conn, run_id, "a", 0, 1)
    assert run_row(conn, run_id)["status"] == "completed"
    assert [m["msg_id"] for m in archived_messages(conn, "mixedcase")] == [claimed[0]["msg_id"]]

    conn.execute("SELECT pgflow.delete_flow_and_data('MixedCase')")
    assert listed_queues(conn) == []
