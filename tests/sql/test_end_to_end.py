"""A flow driven from plain SQL alone: pgmq.read, pgflow.start_tasks, pgflow.complete_task.

seed -> numbers (an array of 1,000) -> square (map) -> report
     -> label ------------------------------------------^
A LISTENing connection sees every event, in an order that respects the flow.
"""

import time
from collections import defaultdict

import psycopg

from tests.sql.helpers import (complete_task, define_flow, drain_notifies, listener, read_and_start,
                               register_worker, run_row, start_flow)

ITEMS = 1000
FLOW = [("seed", []), ("numbers", ["seed"]), ("label", ["seed"]),
        ("square", ["numbers"], {"step_type": "map"}), ("report", ["square", "label"])]


def handler(task):
    step, value = task["step_slug"], task["input"]
    if step == "seed":
        return {"n": task["flow_input"]["count"]}
    if step == "numbers":
        return list(range(value["seed"]["n"]))
    if step == "label":
        return "squares"
    if step == "square":
        return value * value
    return {"label": value["label"], "sum": sum(value["square"]), "count": len(value["square"])}


def work_until_done(conn, run_id, worker_id, deadline):
    while run_row(conn, run_id)["status"] == "started":
        assert time.monotonic() < deadline, "the run did not finish in time"
        tasks = read_and_start(conn, "e2e", worker_id, qty=250)
        conn.commit()
        for task in tasks:
            complete_task(conn, run_id, task["step_slug"], task["task_index"], handler(task))
            conn.commit()


def check_order(events, run_id):
    assert all(e["run_id"] == str(run_id) for e in events)
    kinds = [e["event_type"] for e in events]
    assert kinds[0] == "run:started" and kinds[-1] == "run:completed"
    position = {}
    task_events = defaultdict(list)
    for i, e in enumerate(events):
        if e["event_type"].startswith("step:"):
            position[(e["event_type"], e["step_slug"])] = i
        elif e["event_type"].startswith("task:"):
            task_events[(e["step_slug"], e["task_index"])].append((i, e["event_type"]))
    for slug, deps, *_ in FLOW:
        started, completed = position[("step:started", slug)], position[("step:completed", slug)]
        assert started < completed
        for dep in deps:
            assert position[("step:completed", dep)] < started, (dep, slug)
    assert len(task_events) == ITEMS + 4
    for (slug, _), seen in task_events.items():
        assert [kind for _, kind in seen] == ["task:started", "task:completed"]
        assert position[("step:started", slug)] < seen[0][0] and seen[1][0] < position[("step:completed", slug)]


def test_sql_alone_runs_a_flow_with_branches_and_a_map_of_1000(db_url):
    deadline = time.monotonic() + 90
    with psycopg.connect(db_url) as conn, listener(db_url) as listen:
        define_flow(conn, "e2e", FLOW)
        worker_id = register_worker(conn, "e2e")
        run_id = start_flow(conn, "e2e", {"count": ITEMS})
        conn.commit()

        work_until_done(conn, run_id, worker_id, deadline)
        run = run_row(conn, run_id)

        events = []
        while not events or events[-1]["event_type"] != "run:completed":
            assert time.monotonic() < deadline, f"run:completed not received; last: {events[-1:]}"
            events += drain_notifies(listen, timeout=0.3)

    assert run["status"] == "completed"
    expected_sum = sum(i * i for i in range(ITEMS))
    assert run["output"] == {"report": {"label": "squares", "sum": expected_sum, "count": ITEMS}}
    check_order(events, run_id)
