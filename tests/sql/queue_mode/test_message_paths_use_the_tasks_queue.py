"""Retries, requeues and hand-backs move the message in the queue the task's message went to."""

from tests.sql.helpers import compile_flow, fail_task, read_and_start_step, register_worker, row, rows, scalar, start_flow
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
    # base_delay 7 * 2 ** attempts from the moment of the failure, which lies between the test
    # transaction's start (now()) and this read (clock_timestamp()): exact, however slow the machine
    hidden = row(conn, "SELECT extract(epoch FROM vt - now()) AS since_start, "
                       "extract(epoch FROM vt - clock_timestamp()) AS since_read FROM pgmq.q_f__a WHERE msg_id = %s",
                 (msg_id,))
    assert hidden is not None and hidden["since_start"] >= 14 >= hidden["since_read"]


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
