"""Retries, requeues and hand-backs move the message in the queue the task's message went to."""

from tests.sql.helpers import compile_flow, fail_task, read_and_start_step, register_worker, rows, scalar, start_flow
from tests.sql.requeue_stalled_tasks.stall import age_task, requeue


def _claimed(conn, flow="f"):
    compile_flow(conn, flow, [("a", [])], "step")
    conn.execute("UPDATE pgflow.flows SET opt_timeout = 10, opt_base_delay = 7 WHERE flow_slug = %s", (flow,))
    run_id = start_flow(conn, flow)
    worker = register_worker(conn, f"{flow}__a")
    [task] = read_and_start_step(conn, flow, "a", f"{flow}__a", worker)
    return run_id, worker, task["msg_id"]


def _visible_in(conn, msg_id):
    return scalar(conn, "SELECT vt - clock_timestamp() FROM pgmq.q_f__a WHERE msg_id = %s", (msg_id,))


def test_a_retry_hides_the_message_in_the_step_queue(conn):
    run_id, _, msg_id = _claimed(conn)
    fail_task(conn, run_id, "a", 0, "again")
    assert 12 < _visible_in(conn, msg_id).total_seconds() <= 14  # base_delay 7 * 2 ** attempts


def test_a_requeued_task_is_visible_again_in_the_step_queue(conn):
    run_id, _, msg_id = _claimed(conn)
    age_task(conn, run_id, "a", 41)
    assert requeue(conn) == 1
    assert _visible_in(conn, msg_id).total_seconds() <= 0


def test_a_handed_back_task_is_visible_again_in_the_step_queue(conn):
    _, worker, msg_id = _claimed(conn)
    assert scalar(conn, "SELECT pgflow.hand_back_tasks('f', %s, %s, 'f__a')", ([msg_id], worker)) == 1
    assert _visible_in(conn, msg_id).total_seconds() <= 0
    assert rows(conn, "SELECT status FROM pgflow.step_tasks") == [{"status": "queued"}]
