from tests.sql.helpers import (archived_messages, define_flow, queue_messages, read_and_start, register_worker,
                               start_flow, task)
from tests.sql.requeue_stalled_tasks.stall import age_task, requeue


def test_fourth_stall_marks_the_task_permanently_stalled_and_archives_its_message(conn):
    define_flow(conn, "slow", [("work", [])], timeout=5)
    run_id = start_flow(conn, "slow", {})
    worker = register_worker(conn, "slow")
    for expected_count in (1, 2, 3):
        [claimed] = read_and_start(conn, "slow", worker)
        age_task(conn, run_id, "work", 60)
        assert requeue(conn) == 1
        assert task(conn, run_id, "work")["requeued_count"] == expected_count

    read_and_start(conn, "slow", worker)
    age_task(conn, run_id, "work", 60)
    assert requeue(conn) == 0

    row = task(conn, run_id, "work")
    assert (row["status"], row["requeued_count"]) == ("started", 3)
    assert row["permanently_stalled_at"] is not None
    assert queue_messages(conn, "slow") == []
    assert [m["msg_id"] for m in archived_messages(conn, "slow")] == [claimed["msg_id"]]
    assert requeue(conn) == 0
