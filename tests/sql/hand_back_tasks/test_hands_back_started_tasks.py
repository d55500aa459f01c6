import psycopg

from tests.sql.helpers import (define_flow, drain_notifies, fail_task, listener, queue_messages, read_and_start,
                               register_worker, scalar, start_flow, task)


def hand_back(conn, flow, msg_ids, worker_id):
    return scalar(conn, "SELECT pgflow.hand_back_tasks(%s, %s::bigint[], %s)", (flow, msg_ids, worker_id))


def test_a_started_task_is_queued_again_and_its_message_visible_at_once(conn):
    define_flow(conn, "f", [("work", [])], timeout=60)
    run_id = start_flow(conn, "f", {})
    worker = register_worker(conn, "f")
    [claimed] = read_and_start(conn, "f", worker)

    assert hand_back(conn, "f", [claimed["msg_id"]], worker) == 1

    row = task(conn, run_id, "work")
    assert (row["status"], row["started_at"], row["last_worker_id"], row["requeued_count"]) == ("queued", None, None, 0)
    [message] = queue_messages(conn, "f")
    assert scalar(conn, "SELECT %s <= clock_timestamp()", (message["vt"],))
    [again] = read_and_start(conn, "f", register_worker(conn, "f"))
    assert again["msg_id"] == claimed["msg_id"]


def test_the_interrupted_attempt_does_not_count(conn):
    define_flow(conn, "f", [("work", [], {"max_attempts": 2, "base_delay": 0})])
    run_id = start_flow(conn, "f", {})
    worker = register_worker(conn, "f")
    read_and_start(conn, "f", worker)
    fail_task(conn, run_id, "work", 0, "first try failed")
    [claimed] = read_and_start(conn, "f", worker)
    assert task(conn, run_id, "work")["attempts_count"] == 2

    hand_back(conn, "f", [claimed["msg_id"]], worker)

    assert task(conn, run_id, "work")["attempts_count"] == 1
    read_and_start(conn, "f", worker)
    fail_task(conn, run_id, "work", 0, "second try failed")
    assert task(conn, run_id, "work")["status"] == "failed"  # the second attempt was the last one


def test_only_the_given_messages_of_that_worker_are_handed_back(conn):
    define_flow(conn, "f", [("items", [], {"step_type": "map"})])
    run_id = start_flow(conn, "f", [1, 2, 3])
    mine, other = register_worker(conn, "f"), register_worker(conn, "f")
    first, second = read_and_start(conn, "f", mine, qty=2)
    [third] = read_and_start(conn, "f", other)

    assert hand_back(conn, "f", [first["msg_id"], third["msg_id"]], mine) == 1

    assert [task(conn, run_id, "items", i)["status"] for i in (0, 1, 2)] == ["queued", "started", "started"]


def test_tasks_of_a_failed_run_are_left_alone(conn):
    define_flow(conn, "pair", [("doomed", [], {"max_attempts": 1}), ("hung", [])])
    run_id = start_flow(conn, "pair", {})
    worker = register_worker(conn, "pair")
    claimed = {c["step_slug"]: c for c in read_and_start(conn, "pair", worker)}
    fail_task(conn, run_id, "doomed", 0, "boom")

    assert hand_back(conn, "pair", [claimed["hung"]["msg_id"]], worker) == 0
    assert task(conn, run_id, "hung")["status"] == "cancelled"


def test_a_started_task_left_in_a_failed_run_is_left_alone(conn):
    # a task a database from before the cancellation of failed runs' tasks may still hold
    define_flow(conn, "pair", [("doomed", [], {"max_attempts": 1}), ("hung", [])])
    run_id = start_flow(conn, "pair", {})
    worker = register_worker(conn, "pair")
    claimed = {c["step_slug"]: c for c in read_and_start(conn, "pair", worker)}
    fail_task(conn, run_id, "doomed", 0, "boom")
    conn.execute("UPDATE pgflow.step_tasks SET status = 'started' WHERE run_id = %s AND step_slug = 'hung'", (run_id,))

    assert hand_back(conn, "pair", [claimed["hung"]["msg_id"]], worker) == 0
    assert task(conn, run_id, "hung")["status"] == "started"


def test_nothing_to_hand_back_returns_zero(conn):
    define_flow(conn, "f", [("work", [])])
    assert hand_back(conn, "f", [], register_worker(conn, "f")) == 0


def test_emits_no_event_so_the_next_claim_reads_as_the_same_attempt_starting(db_url):
    with psycopg.connect(db_url) as conn:
        define_flow(conn, "f", [("work", [])])
        start_flow(conn, "f", {})
        worker = register_worker(conn, "f")
        [claimed] = read_and_start(conn, "f", worker)
        conn.commit()
        with listener(db_url) as listen:
            hand_back(conn, "f", [claimed["msg_id"]], worker)
            conn.commit()
            read_and_start(conn, "f", worker)
            conn.commit()
            events = drain_notifies(listen, timeout=5, stop_after=1)

    assert [(e["event_type"], e["attempt"]) for e in events] == [("task:started", 1)]
