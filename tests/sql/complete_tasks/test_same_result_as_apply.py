"""The twins behind complete_task and complete_tasks leave the same state and send the same events.

complete_tasks applies clean reports set-based; pgflow._complete_task_apply applies one report
at a time (complete_tasks sends it every report that is not clean). Each scenario drives a run
to its end twice, once reporting every round's outputs in one complete_tasks call, once
reporting them one by one through _complete_task_apply, with the same failures (fail_task) in
between, and compares what the two runs left: rows, archived messages and events. The
scenarios cover every outcome of a report: completion, map completion, a type violation, a
duplicate, a late report, a retry, and an exhausted task with when_exhausted fail, skip and
skip-cascade - and every way a task ends: completed, failed, skipped (the unfinished siblings
of a skipped step) and cancelled (the unfinished tasks of a failed run), with late reports for
the skipped and cancelled ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.sql.complete_tasks.batch import archived_count, complete_batch, snapshot
from tests.sql.helpers import (define_flow, drain_notifies, fail_task, listener, read_and_start, register_worker,
                               rows, start_flow)

# an action per claimed task: ("complete", output), ("twice", output) or ("fail", error)
Act = Callable[[dict[str, Any]], tuple[str, Any]]


def completes(task: dict[str, Any]) -> tuple[str, Any]:
    return "complete", {"step": task["step_slug"], "input": task["input"]}


def fails_first(step: str, attempts: int = 1) -> Act:
    """The step's task fails on its first ``attempts`` attempts; everything else completes."""
    def act(task: dict[str, Any]) -> tuple[str, Any]:
        if task["step_slug"] == step and task["attempt"] <= attempts:
            return "fail", f"{step} broke"
        return completes(task)
    return act


def attempt_of(conn: psycopg.Connection, task: dict[str, Any]) -> int:
    return rows(conn, "SELECT attempts_count FROM pgflow.step_tasks WHERE run_id = %s AND step_slug = %s"
                      " AND task_index = %s", (task["run_id"], task["step_slug"], task["task_index"]))[0]["attempts_count"]


def fails_index(step: str, task_index: int) -> Act:
    """One task of a map step fails (every attempt); everything else completes."""
    def act(task: dict[str, Any]) -> tuple[str, Any]:
        if task["step_slug"] == step and task["task_index"] == task_index:
            return "fail", f"{step}[{task_index}] broke"
        return completes(task)
    return act


SCENARIOS: dict[str, tuple[list[Any], Any, Act]] = {
    "completion": ([("a", []), ("b", ["a"]), ("c", ["a"]), ("d", ["b", "c"])], {}, completes),
    "map_completion": ([("each", [], {"step_type": "map"}), ("total", ["each"])], [1, 2, 3], completes),
    "dependent_map": ([("items", []), ("each", ["items"], {"step_type": "map"})], {},
                      lambda t: ("complete", [1, 2] if t["step_slug"] == "items" else t["input"])),
    "type_violation": ([("items", []), ("each", ["items"], {"step_type": "map"})], {},
                       lambda t: ("complete", {"not": "an array"})),
    "duplicate_reports": ([("each", [], {"step_type": "map"})], [1, 2], lambda t: ("twice", t["input"])),
    "late_report": ([("bad", [], {"max_attempts": 1}), ("good", [])], {}, fails_first("bad")),
    "retry_then_complete": ([("flaky", [], {"max_attempts": 2, "base_delay": 0}), ("after", ["flaky"])], {},
                            fails_first("flaky")),
    "exhausted_fail": ([("bad", [], {"max_attempts": 1}), ("good", []), ("end", ["good"])], {}, fails_first("bad")),
    "exhausted_skip": ([("bad", [], {"max_attempts": 1, "when_exhausted": "skip"}), ("good", []),
                        ("end", ["bad", "good"])], {}, fails_first("bad")),
    "exhausted_skip_cascade": ([("bad", [], {"max_attempts": 1, "when_exhausted": "skip-cascade"}), ("good", []),
                                ("below", ["bad"]), ("end", ["good"])], {}, fails_first("bad")),
    "skipped_map_siblings": ([("each", [], {"step_type": "map", "max_attempts": 1, "when_exhausted": "skip"}),
                              ("after", ["each"])], [1, 2, 3], fails_index("each", 0)),
    "cancelled_map_siblings": ([("each", [], {"step_type": "map", "max_attempts": 1}), ("other", [])], [1, 2],
                               fails_index("each", 1)),
    "type_violation_cancels_a_retry": ([("items", []), ("slow", [], {"max_attempts": 2, "base_delay": 60}),
                                        ("each", ["items"], {"step_type": "map"})], {}, fails_first("slow")),
}
# the task statuses a scenario must reach (so that the comparison covers them)
REACHES = {"skipped_map_siblings": "skipped", "cancelled_map_siblings": "cancelled",
           "type_violation_cancels_a_retry": "cancelled", "exhausted_fail": "cancelled"}


def drive(conn: psycopg.Connection, flow: str, act: Act, batched: bool) -> None:
    worker = register_worker(conn, flow)
    for _ in range(20):
        claimed = read_and_start(conn, flow, worker)
        if not claimed:
            return
        reports = []
        for task in claimed:  # failures first, so that later reports of the round can be late
            action, value = act({**task, "attempt": attempt_of(conn, task)})
            if action == "fail":
                fail_task(conn, task["run_id"], task["step_slug"], task["task_index"], value)
            else:
                reports += [(task, value)] * (2 if action == "twice" else 1)
        if batched:
            outputs = {id(t): v for t, v in reports}
            complete_batch(conn, [t for t, _ in reports], lambda t: outputs[id(t)])
        else:
            for t, value in reports:
                conn.execute("SELECT pgflow._complete_task_apply(%s, %s, %s, %s)",
                             (t["run_id"], t["step_slug"], t["task_index"], Jsonb(value)))
    raise AssertionError(f"{flow} still has work after 20 rounds")


def outcome(db_url: str, flow: str, batched: bool) -> tuple[Any, ...]:
    steps, flow_input, act = SCENARIOS[flow]
    slug = f"{flow}_{'batch' if batched else 'apply'}"
    with psycopg.connect(db_url) as conn, listener(db_url) as listen:
        define_flow(conn, slug, steps)
        run_id = start_flow(conn, slug, flow_input)
        drive(conn, slug, act, batched)
        conn.commit()
        events = drain_notifies(listen, timeout=0.5)
        details = rows(conn, "SELECT ss.step_slug, ss.skip_reason, ss.error_message,"
                             " array_agg(t.error_message ORDER BY t.task_index) AS task_errors"
                             " FROM pgflow.step_states AS ss LEFT JOIN pgflow.step_tasks AS t USING (run_id, step_slug)"
                             " WHERE ss.run_id = %s GROUP BY 1, 2, 3 ORDER BY 1", (run_id,))
        state = (snapshot(conn, run_id), details, archived_count(conn, slug, run_id))
    fields = ("event_type", "step_slug", "task_index", "status", "attempt", "output", "error_message",
              "skip_reason", "will_retry", "remaining_tasks", "initial_tasks")
    return state, sorted(tuple(repr(e.get(k)) for k in fields) for e in events)


@pytest.mark.parametrize("flow", SCENARIOS)
def test_set_based_and_one_by_one_give_the_same_outcome(db_url, flow):
    batch_state, batch_events = outcome(db_url, flow, batched=True)
    apply_state, apply_events = outcome(db_url, flow, batched=False)
    assert batch_state == apply_state
    assert batch_events == apply_events
    assert batch_events, "the scenario sent no event"
    if flow in REACHES:
        assert REACHES[flow] in {t["status"] for t in batch_state[0]["tasks"]}
