"""complete_tasks emits the events complete_task would, each run's in a valid order."""

import psycopg

from tests.sql.complete_tasks.batch import complete_batch, drive
from tests.sql.helpers import define_flow, drain_notifies, listener, read_and_start, register_worker, start_flow

DIAMOND = [("top", []), ("left", ["top"]), ("right", ["top"]), ("bottom", ["left", "right"])]
EVENTS = 2 * 18  # per run: run:started, 4 x step:started, task:started, task:completed, step:completed, run:completed


def events_of(db_url, flow, batched):
    with psycopg.connect(db_url) as conn, listener(db_url) as listen:
        define_flow(conn, flow, DIAMOND)
        run_ids = [start_flow(conn, flow, {}) for _ in range(2)]
        worker = register_worker(conn, flow)
        conn.commit()
        drive(conn, flow, worker, lambda t: t["step_slug"], batched)
        conn.commit()
        events = drain_notifies(listen, timeout=5, stop_after=EVENTS)
    return run_ids, [e for e in events if not e["event_type"].startswith("run:started")]


def key(event):
    return (event["run_id"], event["event_type"], event.get("step_slug"), event.get("task_index"))


def test_same_events_as_one_by_one_in_a_valid_order(db_url):
    _, single = events_of(db_url, "diamond_single", batched=False)
    run_ids, batch = events_of(db_url, "diamond_batch", batched=True)
    rename = {str(a): str(b) for a, b in zip(sorted({e["run_id"] for e in single}), sorted(map(str, run_ids)))}
    assert sorted(key(e) for e in batch) == sorted((rename[r], *rest) for r, *rest in map(key, single))

    for run_id in map(str, run_ids):
        order = [(e["event_type"], e.get("step_slug")) for e in batch if e["run_id"] == run_id]
        position = {item: i for i, item in enumerate(order)}
        for step, deps in DIAMOND:
            assert position[("task:completed", step)] < position[("step:completed", step)]
            for dep in deps:
                assert position[("step:completed", dep)] < position[("step:started", step)]
        assert order[-1] == ("run:completed", None)


def test_task_completed_carries_attempt_and_output(db_url):
    with psycopg.connect(db_url) as conn, listener(db_url) as listen:
        define_flow(conn, "one", [("only", [])])
        start_flow(conn, "one", {})
        worker = register_worker(conn, "one")
        claimed = read_and_start(conn, "one", worker)
        conn.commit()
        drain_notifies(listen, timeout=2, stop_after=3)
        complete_batch(conn, claimed, lambda t: {"ok": True})
        conn.commit()
        events = drain_notifies(listen, timeout=5, stop_after=3)
    assert [e["event_type"] for e in events] == ["task:completed", "step:completed", "run:completed"]
    task, step, run = events
    assert (task["attempt"], task["output"], task["status"], task["task_index"]) == (1, {"ok": True}, "completed", 0)
    assert (step["output"], step["remaining_tasks"], step["status"]) == ({"ok": True}, 0, "completed")
    assert (run["output"], run["status"]) == ({"only": {"ok": True}}, "completed")
