from tests.sql.helpers import define_flow, queue_messages, rows, start_flow


def test_root_map_gets_one_queued_task_and_message_per_element(conn):
    define_flow(conn, "f", [("items", [], {"step_type": "map"})])

    run_id = start_flow(conn, "f", ["a", "b", "c"])

    tasks = rows(conn, "SELECT task_index, status, message_id FROM pgflow.step_tasks"
                       " WHERE run_id = %s ORDER BY task_index", (run_id,))
    assert [(t["task_index"], t["status"]) for t in tasks] == [(0, "queued"), (1, "queued"), (2, "queued")]
    messages = {m["msg_id"]: m["message"] for m in queue_messages(conn, "f")}
    for t in tasks:
        assert messages[t["message_id"]] == {
            "flow_slug": "f", "run_id": str(run_id), "step_slug": "items", "task_index": t["task_index"]}
    assert rows(conn, "SELECT remaining_tasks FROM pgflow.step_states WHERE run_id = %s", (run_id,)) == [
        {"remaining_tasks": 3}]
