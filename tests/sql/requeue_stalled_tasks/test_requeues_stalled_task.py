from tests.sql.helpers import define_flow, read_and_start, register_worker, scalar, start_flow, task
from tests.sql.requeue_stalled_tasks.stall import age_task, requeue


def test_task_started_longer_than_timeout_plus_30_s_is_queued_again_and_visible(conn):
    define_flow(conn, "slow", [("work", [])], timeout=10)
    run_id = start_flow(conn, "slow", {})
    [claimed] = read_and_start(conn, "slow", register_worker(conn, "slow"))
    age_task(conn, run_id, "work", 41)

    assert requeue(conn) == 1

    row = task(conn, run_id, "work")
    assert (row["status"], row["started_at"], row["last_worker_id"], row["requeued_count"]) == ("queued", None, None, 1)
    assert row["last_requeued_at"] is not None and row["permanently_stalled_at"] is None
    assert scalar(conn, "SELECT vt <= clock_timestamp() FROM pgmq.q_slow WHERE msg_id = %s", (claimed["msg_id"],))
    [again] = read_and_start(conn, "slow", register_worker(conn, "slow"))
    assert again["msg_id"] == claimed["msg_id"]


def test_task_within_timeout_plus_30_s_is_left_alone(conn):
    define_flow(conn, "slow", [("work", [])], timeout=10)
    run_id = start_flow(conn, "slow", {})
    read_and_start(conn, "slow", register_worker(conn, "slow"))
    age_task(conn, run_id, "work", 38)
    assert requeue(conn) == 0
    assert task(conn, run_id, "work")["status"] == "started"


def test_the_step_timeout_wins_over_the_flow_timeout(conn):
    define_flow(conn, "slow", [("work", [], {"timeout": 100})], timeout=10)
    run_id = start_flow(conn, "slow", {})
    read_and_start(conn, "slow", register_worker(conn, "slow"))
    age_task(conn, run_id, "work", 120)
    assert requeue(conn) == 0
    age_task(conn, run_id, "work", 131)
    assert requeue(conn) == 1
