from tests.sql.helpers import (archived_messages, complete_task, define_flow, queue_messages, read_and_start,
                               register_worker, rows, start_flow)


def test_each_task_records_its_steps_queue_and_its_message_is_there(conn):
    define_flow(conn, "f", [("a", []), ("b", ["a"])])
    run_id = start_flow(conn, "f")
    tasks = rows(conn, "SELECT step_slug, queue_name, message_id FROM pgflow.step_tasks WHERE run_id = %s", (run_id,))
    assert [(t["step_slug"], t["queue_name"]) for t in tasks] == [("a", "f")]
    assert [m["msg_id"] for m in queue_messages(conn, "f")] == [tasks[0]["message_id"]]


def test_the_snapshot_is_what_later_calls_address_even_if_the_step_moves(conn):
    # a task keeps the queue its message went to; a step's route only applies to new tasks
    define_flow(conn, "f", [("a", [])])
    run_id = start_flow(conn, "f")
    conn.execute("SELECT pgmq.create('elsewhere')")
    conn.execute("UPDATE pgflow.steps SET queue_name = 'elsewhere' WHERE flow_slug = 'f'")
    claimed = read_and_start(conn, "f", register_worker(conn, "f"))
    assert [t["step_slug"] for t in claimed] == ["a"]
    complete_task(conn, run_id, "a", 0, 1)
    assert [m["msg_id"] for m in archived_messages(conn, "f")] == [claimed[0]["msg_id"]]
    assert archived_messages(conn, "elsewhere") == []
