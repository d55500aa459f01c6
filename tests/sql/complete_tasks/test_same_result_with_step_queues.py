"""complete_tasks with private step queues: the batch leaves what complete_task one by one leaves,
and every message is archived in its own step's queue."""

from psycopg import sql

from tests.sql.complete_tasks.batch import complete_batch, snapshot
from tests.sql.helpers import compile_flow, complete_task, read_and_start_step, register_worker, rows, start_flow

STEPS = [("items", []), ("each", ["items"], {"step_type": "map"}), ("left", ["each"]), ("right", ["each"]),
         ("join", ["left", "right"])]


def _out(task):
    return [1, 2, 3] if task["step_slug"] == "items" else {"step": task["step_slug"], "index": task["task_index"]}


def _drive(conn, flow, worker, batched):
    routes = rows(conn, "SELECT step_slug, queue_name FROM pgflow.steps WHERE flow_slug = %s ORDER BY step_index",
                  (flow,))
    for _ in range(20):
        claimed = [t for r in routes for t in read_and_start_step(conn, flow, r["step_slug"], r["queue_name"], worker)]
        if not claimed:
            return
        if batched:
            complete_batch(conn, claimed, _out)
        else:
            for t in claimed:
                complete_task(conn, t["run_id"], t["step_slug"], t["task_index"], _out(t))
    raise AssertionError(f"{flow} still has work")


def _archived_in_own_queue(conn, run_id):
    tasks = rows(conn, "SELECT queue_name, message_id FROM pgflow.step_tasks WHERE run_id = %s", (run_id,))
    found = 0
    for t in tasks:
        query = sql.SQL("SELECT count(*) FROM pgmq.{} WHERE msg_id = %s").format(sql.Identifier("a_" + t["queue_name"]))
        found += conn.execute(query, (t["message_id"],)).fetchone()[0]
    return found, len(tasks)


def test_batch_and_one_by_one_leave_the_same_state_with_step_queues(conn):
    results = {}
    for batched in (False, True):
        flow = "sq_batch" if batched else "sq_single"
        compile_flow(conn, flow, STEPS, "step")
        run_id = start_flow(conn, flow)
        _drive(conn, flow, register_worker(conn, flow), batched)
        results[batched] = (snapshot(conn, run_id), _archived_in_own_queue(conn, run_id))
    assert results[True] == results[False]
    assert results[True][0]["run"][0]["status"] == "completed"
    archived, tasks = results[True][1]
    assert archived == tasks == 7
