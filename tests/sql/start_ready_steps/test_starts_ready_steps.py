from tests.sql.helpers import (define_flow, mark_step_completed, queue_messages, rows, set_step_state,
                               start_flow, step_state)


def test_starts_steps_whose_dependencies_are_done_and_queues_their_tasks(conn):
    define_flow(conn, "f", [("a", []), ("b", ["a"]), ("each", ["a"], {"step_type": "map"}), ("c", ["b"])])
    run_id = start_flow(conn, "f", {})
    mark_step_completed(conn, run_id, "a", [1, 2, 3])
    set_step_state(conn, run_id, "b", remaining_deps=0)
    set_step_state(conn, run_id, "each", remaining_deps=0, initial_tasks=3)

    conn.execute("SELECT pgflow.start_ready_steps(%s)", (run_id,))

    for slug, tasks in (("b", 1), ("each", 3)):
        state = step_state(conn, run_id, slug)
        assert (state["status"], state["remaining_tasks"]) == ("started", tasks)
        assert state["started_at"] is not None
    assert step_state(conn, run_id, "c")["status"] == "created"
    tasks = rows(conn, "SELECT step_slug, task_index, status, message_id FROM pgflow.step_tasks"
                       " WHERE run_id = %s AND step_slug <> 'a' ORDER BY step_slug, task_index", (run_id,))
    assert [(t["step_slug"], t["task_index"], t["status"]) for t in tasks] == [
        ("b", 0, "queued"), ("each", 0, "queued"), ("each", 1, "queued"), ("each", 2, "queued")]
    messages = {m["msg_id"]: m["message"] for m in queue_messages(conn, "f")}
    assert [messages[t["message_id"]] for t in tasks] == [
        {"flow_slug": "f", "run_id": str(run_id), "step_slug": t["step_slug"], "task_index": t["task_index"]}
        for t in tasks]
