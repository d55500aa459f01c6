"""The skipped steps' queued and started tasks become 'skipped' and their messages are archived;
tasks of other steps and finished tasks keep their status."""

from tests.sql.helpers import (archived_messages, complete_task, define_flow, queue_messages, read_and_start,
                               register_worker, start_flow, task)


def test_active_tasks_of_skipped_steps_end_skipped(conn):
    define_flow(conn, "f", [("each", [], {"step_type": "map"}), ("other", [])])
    run_id = start_flow(conn, "f", [1, 2, 3])
    worker = register_worker(conn, "f")
    claimed = read_and_start(conn, "f", worker, qty=3)  # each[0..2] started; other stays queued
    complete_task(conn, run_id, "each", 0, "done")

    conn.execute("SELECT pgflow._cascade_force_skip_steps(%s, 'each', 'condition_unmet')", (run_id,))

    assert [task(conn, run_id, "each", i)["status"] for i in (0, 1, 2)] == ["completed", "skipped", "skipped"]
    assert task(conn, run_id, "each", 1)["attempts_count"] == 1  # history kept
    assert task(conn, run_id, "other")["status"] == "queued"
    assert [m["message"]["step_slug"] for m in queue_messages(conn, "f")] == ["other"]
    assert sorted(m["msg_id"] for m in archived_messages(conn, "f")) == sorted(c["msg_id"] for c in claimed)
