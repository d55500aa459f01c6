"""Subflow steps: a child run per task, recording its parent; the child's end ends the task."""

from __future__ import annotations

from tests.sql.helpers import (complete_task, define_flow, fail_task, read_and_start, register_worker, row, rows,
                               run_row, start_flow, step_state)
from tests.sql.waits.helpers import define_waiting_flow, wait_row


def _children(conn, run_id):
    return rows(conn, "SELECT run_id, parent_step_slug, parent_task_index, input, status FROM pgflow.runs "
                      "WHERE parent_run_id = %s ORDER BY parent_task_index", (run_id,))


def _child_flow(conn):
    define_flow(conn, "child", [("work", [])], max_attempts=1)


def test_child_run_records_its_parent_and_completes_the_step(conn):
    _child_flow(conn)
    define_waiting_flow(conn, "parent", [("sub", []), ("after", ["sub"])],
                        {"sub": {"wait_kind": "subflow", "child_flow_slug": "child"}})
    run_id = start_flow(conn, "parent", {"n": 1})
    [child] = _children(conn, run_id)
    assert (child["parent_step_slug"], child["parent_task_index"], child["input"]) == ("sub", 0, {"n": 1})
    assert wait_row(conn, run_id, "sub")["child_run_id"] == child["run_id"]
    worker = register_worker(conn, "child")
    read_and_start(conn, "child", worker)
    complete_task(conn, child["run_id"], "work", 0, {"done": 1})
    assert run_row(conn, child["run_id"])["status"] == "completed"
    assert step_state(conn, run_id, "sub")["output"] == {"work": {"done": 1}}
    assert step_state(conn, run_id, "after")["status"] == "started"


def test_child_input_at_a_path(conn):
    _child_flow(conn)
    define_waiting_flow(conn, "parent", [("prep", []), ("sub", ["prep"])],
                        {"sub": {"wait_kind": "subflow", "child_flow_slug": "child", "input_path": ["prep", "order"]}})
    run_id = start_flow(conn, "parent", {})
    worker = register_worker(conn, "parent")
    read_and_start(conn, "parent", worker)
    complete_task(conn, run_id, "prep", 0, {"order": {"id": 3}})
    assert [c["input"] for c in _children(conn, run_id)] == [{"id": 3}]


def test_failed_child_fails_the_parent_with_its_error(conn):
    _child_flow(conn)
    define_waiting_flow(conn, "parent", [("sub", [])], {"sub": {"wait_kind": "subflow", "child_flow_slug": "child"}},
                        max_attempts=5)
    run_id = start_flow(conn, "parent", {})
    [child] = _children(conn, run_id)
    worker = register_worker(conn, "child")
    read_and_start(conn, "child", worker)
    fail_task(conn, child["run_id"], "work", 0, "boom")
    assert run_row(conn, run_id)["status"] == "failed"
    message = step_state(conn, run_id, "sub")["error_message"]
    assert message == f"child run {child['run_id']} of flow 'child' failed: work: boom"


def test_map_of_subflows_collects_the_outputs_in_order(conn):
    _child_flow(conn)
    define_waiting_flow(conn, "parent", [("each", [], {"step_type": "map"})],
                        {"each": {"wait_kind": "subflow", "child_flow_slug": "child"}})
    run_id = start_flow(conn, "parent", [10, 20, 30])
    children = _children(conn, run_id)
    assert [(c["parent_task_index"], c["input"]) for c in children] == [(0, 10), (1, 20), (2, 30)]
    worker = register_worker(conn, "child")
    read_and_start(conn, "child", worker)
    for child in reversed(children):
        complete_task(conn, child["run_id"], "work", 0, child["input"] * 2)
    assert run_row(conn, run_id)["output"] == {"each": [{"work": 20}, {"work": 40}, {"work": 60}]}


def test_cancelling_the_parent_cancels_its_children(conn):
    _child_flow(conn)
    define_waiting_flow(conn, "parent", [("each", [], {"step_type": "map"})],
                        {"each": {"wait_kind": "subflow", "child_flow_slug": "child"}})
    run_id = start_flow(conn, "parent", [1, 2])
    conn.execute("SELECT pgflow.cancel_run(%s)", (run_id,))
    assert [(c["status"]) for c in _children(conn, run_id)] == ["failed", "failed"]
    assert row(conn, "SELECT count(*) AS n FROM pgflow.runs WHERE parent_run_id = %s AND cancelled_at IS NULL",
               (run_id,))["n"] == 0
    assert rows(conn, "SELECT 1 FROM pgflow.waits WHERE run_id = %s", (run_id,)) == []


def test_unknown_child_flow_fails_the_step(conn):
    define_waiting_flow(conn, "parent", [("sub", [])], {"sub": {"wait_kind": "subflow", "child_flow_slug": "ghost"}})
    run_id = start_flow(conn, "parent", {})
    assert run_row(conn, run_id)["status"] == "failed"
    assert "could not start a run of flow 'ghost'" in step_state(conn, run_id, "sub")["error_message"]


def test_depth_beyond_ten_fails_the_step(conn):
    define_waiting_flow(conn, "loop", [("sub", [])], {"sub": {"wait_kind": "subflow", "child_flow_slug": "loop"}})
    run_id = start_flow(conn, "loop", {})  # only SQL can define a cycle; the DSL refuses it
    depth = rows(conn, "WITH RECURSIVE d AS (SELECT run_id, 0 AS n FROM pgflow.runs WHERE run_id = %s "
                       "UNION ALL SELECT r.run_id, d.n + 1 FROM pgflow.runs r JOIN d ON r.parent_run_id = d.run_id) "
                       "SELECT max(n) AS n FROM d", (run_id,))[0]["n"]
    assert depth == 10
    assert run_row(conn, run_id)["status"] == "failed"  # the deepest failure went up the chain
    assert "more than 10 levels" in step_state(conn, run_id, "sub")["error_message"]


def test_resume_of_the_parent_reruns_only_the_failed_child(conn):
    _child_flow(conn)
    define_waiting_flow(conn, "parent", [("each", [], {"step_type": "map"})],
                        {"each": {"wait_kind": "subflow", "child_flow_slug": "child"}})
    run_id = start_flow(conn, "parent", [1, 2, 3])
    children = _children(conn, run_id)
    worker = register_worker(conn, "child")
    read_and_start(conn, "child", worker)
    complete_task(conn, children[0]["run_id"], "work", 0, "a")
    complete_task(conn, children[2]["run_id"], "work", 0, "c")
    fail_task(conn, children[1]["run_id"], "work", 0, "boom")
    assert run_row(conn, run_id)["status"] == "failed"

    resumed = row(conn, "SELECT run_id FROM pgflow.resume_run(%s)", (run_id,))["run_id"]
    [again] = _children(conn, resumed)
    assert (again["parent_task_index"], again["input"]) == (1, 2)
    assert rows(conn, "SELECT task_index FROM pgflow.waits WHERE run_id = %s", (resumed,)) == [{"task_index": 1}]
    read_and_start(conn, "child", worker)
    complete_task(conn, again["run_id"], "work", 0, "b")
    assert run_row(conn, resumed)["output"] == {"each": [{"work": "a"}, {"work": "b"}, {"work": "c"}]}
