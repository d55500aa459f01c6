"""complete_task's shortcut for a map task that leaves others of its step: after every single
report it leaves what complete_tasks leaves for that report (rows, archived messages, events),
and a report that is not clean still changes nothing (it takes the general path)."""

import psycopg

from tests.sql.complete_tasks.batch import complete_batch
from tests.sql.helpers import (archived_messages, complete_task, define_flow, drain_notifies, fail_task, listener,
                               queue_messages, read_and_start, register_worker, rows, run_row, start_flow, step_state,
                               task)

ITEMS = [3, 1, 4, 1]


def after_each_report(db_url, flow, one_by_one):
    """The state of the map's step, its tasks, archived messages and events after each report."""
    seen = []
    with psycopg.connect(db_url) as conn, listener(db_url) as listen:
        define_flow(conn, flow, [("each", [], {"step_type": "map"}), ("after", ["each"])])
        run_id = start_flow(conn, flow, ITEMS)
        claimed = read_and_start(conn, flow, register_worker(conn, flow))
        conn.commit()
        drain_notifies(listen, timeout=2, stop_after=2 + len(ITEMS))  # run/step started, task:started
        for t in sorted(claimed, key=lambda t: -t["task_index"]):  # out of order on purpose
            if one_by_one:
                returned = complete_task(conn, run_id, "each", t["task_index"], t["input"] * 2)
                status = returned[0]["status"]
            else:
                status = complete_batch(conn, [t], lambda t: t["input"] * 2)[0]["status"]
            conn.commit()
            state = step_state(conn, run_id, "each")
            seen.append({
                "status": status,
                "state": {**{k: state[k] for k in ("status", "remaining_tasks", "output")},
                          "completed": state["completed_at"] is not None},
                "tasks": rows(conn, "SELECT task_index, status, output, completed_at IS NOT NULL AS done"
                                    " FROM pgflow.step_tasks WHERE run_id = %s AND step_slug = 'each'"
                                    " ORDER BY task_index", (run_id,)),
                "queued": sorted(m["msg_id"] - claimed[0]["msg_id"] for m in queue_messages(conn, flow)),
                "archived": sorted(m["msg_id"] - claimed[0]["msg_id"] for m in archived_messages(conn, flow)),
                "events": [(e["event_type"], e.get("step_slug"), e.get("task_index"), e.get("output"), e.get("status"))
                           for e in drain_notifies(listen, timeout=2, stop_after=3 if len(seen) == len(ITEMS) - 1 else 1)],
            })
    return seen


def test_each_report_leaves_what_complete_tasks_leaves(db_url):
    single = after_each_report(db_url, "map_single", one_by_one=True)
    batch = after_each_report(db_url, "map_batch", one_by_one=False)
    assert single == batch
    # the shortcut's reports really were the partial ones, and they are right
    first = single[0]
    assert first["state"] == {"status": "started", "remaining_tasks": 3, "output": None, "completed": False}
    assert first["events"] == [("task:completed", "each", 3, 2, "completed")]
    assert single[-1]["state"]["status"] == "completed"
    assert single[-1]["state"]["output"] == [6, 2, 8, 2]


def test_a_repeated_report_of_a_map_task_changes_nothing(conn):
    define_flow(conn, "each", [("sq", [], {"step_type": "map"})])
    run_id = start_flow(conn, "each", [1, 2, 3])
    claimed = read_and_start(conn, "each", register_worker(conn, "each"))
    complete_task(conn, run_id, "sq", 0, "first")
    again = complete_task(conn, run_id, "sq", 0, "second")
    assert (again[0]["status"], again[0]["output"]) == ("completed", "first")
    assert step_state(conn, run_id, "sq")["remaining_tasks"] == 2
    assert len(queue_messages(conn, "each")) == len(claimed) - 1


def test_a_report_of_a_queued_map_task_leaves_it_alone(conn):
    define_flow(conn, "each", [("sq", [], {"step_type": "map"})])
    run_id = start_flow(conn, "each", [1, 2, 3])
    read_and_start(conn, "each", register_worker(conn, "each"), qty=1)
    returned = complete_task(conn, run_id, "sq", 2, "early")
    assert (returned[0]["status"], returned[0]["output"]) == ("queued", None)
    assert step_state(conn, run_id, "sq")["remaining_tasks"] == 3
    assert len(queue_messages(conn, "each")) == 3


def test_a_map_task_of_a_failed_run_only_archives_its_message(conn):
    define_flow(conn, "both", [("sq", [], {"step_type": "map"}), ("other", [])], max_attempts=1)
    run_id = start_flow(conn, "both", [1, 2, 3])
    claimed = read_and_start(conn, "both", register_worker(conn, "both"))
    fail_task(conn, run_id, "other", 0, "boom")
    returned = complete_task(conn, run_id, "sq", 1, "late")
    assert returned[0]["output"] is None and returned[0]["status"] != "completed"
    assert task(conn, run_id, "sq", 1)["output"] is None
    assert run_row(conn, run_id)["status"] == "failed"
    mine = next(t["msg_id"] for t in claimed if t["step_slug"] == "sq" and t["task_index"] == 1)
    assert mine in {m["msg_id"] for m in archived_messages(conn, "both")}
