"""Every emit site of the engine sends its event with exactly the documented fields.

Each scenario drives one path through the engine (the one-statement start and the general one,
conditions, taskless maps, the single-task and the batch claim and completion, retries, the
three outcomes of an exhausted task, a type violation) and lists the events it must produce, so
that every place in pgflow/sql/schema that calls pgflow._emit is reached at least once. The
fields of each event type are those of docs/reference/events.md, key for key.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.sql.helpers import (complete_task, define_flow, drain_notifies, fail_task, listener, read_and_start,
                               register_worker, rows, start_flow)

COMMON = {"event_type", "run_id", "flow_slug", "status", "ts"}
STEP = COMMON | {"step_slug"}
TASK = STEP | {"task_index", "attempt"}
FIELDS = {
    "run:started": COMMON | {"input", "remaining_steps", "started_at"},
    "run:completed": COMMON | {"output", "completed_at"},
    "run:failed": COMMON | {"error_message", "failed_at", "failed_step_slug"},
    "run:cancelled": COMMON | {"reason", "cancelled_at"},
    "step:started": STEP | {"started_at", "remaining_tasks", "remaining_deps", "initial_tasks"},
    "step:completed": STEP | {"output", "started_at", "completed_at", "remaining_tasks", "remaining_deps"},
    "step:failed": STEP | {"error_message", "failed_at"},
    "step:skipped": STEP | {"skip_reason", "skipped_at"},
    "task:started": TASK | {"worker_id", "started_at"},
    "task:completed": TASK | {"output", "completed_at"},
    "task:failed": TASK | {"error_message", "will_retry", "retry_at", "failed_at"},
}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d(:\d\d)?$")


def expected_fields(event: dict[str, Any]) -> set[str]:
    fields = set(FIELDS[event["event_type"]])
    if event["event_type"] == "step:skipped" and event["skip_reason"] == "handler_failed":
        fields.add("error_message")  # the skip of an exhausted task keeps its error
    return fields


def claim(conn: psycopg.Connection, flow: str, worker: Any) -> list[dict[str, Any]]:
    return [r for r in rows(conn, "SELECT * FROM pgflow.claim_tasks(%s, 100, %s)", (flow, worker)) if r["run_id"]]


def complete_batch(conn: psycopg.Connection, tasks: list[dict[str, Any]], output: Any) -> None:
    rows(conn, "SELECT * FROM pgflow.complete_tasks(%s::uuid[], %s::text[], %s::int[], %s::jsonb[])",
         ([t["run_id"] for t in tasks], [t["step_slug"] for t in tasks], [t["task_index"] for t in tasks],
          [Jsonb(output) for _ in tasks]))


def batch_paths(conn: psycopg.Connection) -> None:
    # the one-statement start; claim_tasks; complete_tasks with _finish_steps and _advance_runs;
    # then start_tasks and complete_task with _on_step_completed and maybe_complete_run
    define_flow(conn, "pair", [("a", []), ("b", ["a"])])
    run_id = start_flow(conn, "pair", {"x": 1})
    worker = register_worker(conn, "pair")
    complete_batch(conn, claim(conn, "pair", worker), {"a": 1})
    (b,) = read_and_start(conn, "pair", worker)
    complete_task(conn, run_id, b["step_slug"], 0, {"b": 2})


def batch_completes_run(conn: psycopg.Connection) -> None:
    define_flow(conn, "job", [("only", [])])
    start_flow(conn, "job", {"n": 1})
    complete_batch(conn, claim(conn, "job", register_worker(conn, "job")), 7)


def conditions(conn: psycopg.Connection) -> None:
    # the general start (_create_run), an unmet condition (_mark_steps_skipped), start_ready_steps
    define_flow(conn, "cond", [("vip", [], {"required_input_pattern": {"tier": "gold"}}), ("always", [])])
    start_flow(conn, "cond", {"tier": "silver"})


def taskless_map(conn: psycopg.Connection) -> None:
    define_flow(conn, "empty", [("each", [], {"step_type": "map"}), ("after", ["each"])])
    start_flow(conn, "empty", [])


def retry_then_fail(conn: psycopg.Connection) -> None:
    define_flow(conn, "flaky", [("x", [], {"max_attempts": 2, "base_delay": 0})])
    run_id = start_flow(conn, "flaky", {})
    worker = register_worker(conn, "flaky")
    read_and_start(conn, "flaky", worker)
    fail_task(conn, run_id, "x", 0, "once")
    read_and_start(conn, "flaky", worker)
    fail_task(conn, run_id, "x", 0, "twice")


def exhausted(when_exhausted: str) -> Callable[[psycopg.Connection], None]:
    def scenario(conn: psycopg.Connection) -> None:
        flow = "ex_" + when_exhausted.replace("-", "_")
        define_flow(conn, flow, [("x", [], {"max_attempts": 1, "when_exhausted": when_exhausted}), ("y", ["x"])])
        run_id = start_flow(conn, flow, {})
        read_and_start(conn, flow, register_worker(conn, flow))
        fail_task(conn, run_id, "x", 0, "gave up")
    return scenario


def type_violation(conn: psycopg.Connection) -> None:
    define_flow(conn, "tv", [("s", []), ("m", ["s"], {"step_type": "map"})])
    run_id = start_flow(conn, "tv", {})
    read_and_start(conn, "tv", register_worker(conn, "tv"))
    complete_task(conn, run_id, "s", 0, {"not": "an array"})


def cancelled(conn: psycopg.Connection) -> None:
    define_flow(conn, "cancel", [("x", []), ("y", ["x"])])
    run_id = start_flow(conn, "cancel", {})
    read_and_start(conn, "cancel", register_worker(conn, "cancel"))
    conn.execute("SELECT pgflow.cancel_run(%s, 'enough')", (run_id,))


SCENARIOS: dict[str, tuple[Callable[[psycopg.Connection], None], list[str]]] = {
    "batch_paths": (batch_paths, [
        "run:started", "step:started", "task:started", "task:completed", "step:completed", "step:started",
        "task:started", "task:completed", "step:completed", "run:completed"]),
    "batch_completes_run": (batch_completes_run, [
        "run:started", "step:started", "task:started", "task:completed", "step:completed", "run:completed"]),
    "conditions": (conditions, ["run:started", "step:skipped", "step:started"]),
    "taskless_map": (taskless_map, ["run:started", "step:completed", "step:started"]),
    "retry_then_fail": (retry_then_fail, [
        "run:started", "step:started", "task:started", "task:failed", "task:started", "task:failed",
        "step:failed", "run:failed"]),
    "exhausted_fail": (exhausted("fail"), [
        "run:started", "step:started", "task:started", "task:failed", "step:failed", "run:failed"]),
    "exhausted_skip": (exhausted("skip"), [
        "run:started", "step:started", "task:started", "task:failed", "step:skipped", "step:started"]),
    "exhausted_skip_cascade": (exhausted("skip-cascade"), [
        "run:started", "step:started", "task:started", "task:failed", "step:skipped", "step:skipped",
        "run:completed"]),
    "type_violation": (type_violation, [
        "run:started", "step:started", "task:started", "task:failed", "step:failed", "run:failed"]),
    "cancelled": (cancelled, [
        "run:started", "step:started", "task:started", "step:failed", "run:cancelled", "run:failed"]),
}


def capture(db_url: str, scenario: Callable[[psycopg.Connection], None], expected: int) -> list[dict[str, Any]]:
    with psycopg.connect(db_url) as conn, listener(db_url) as listen:
        scenario(conn)
        conn.commit()
        return drain_notifies(listen, timeout=5, stop_after=expected)


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_event_carries_exactly_its_fields(db_url, name):
    scenario, expected = SCENARIOS[name]
    events = capture(db_url, scenario, len(expected))
    assert [e["event_type"] for e in events] == expected
    for event in events:
        assert set(event) == expected_fields(event), event
        assert TIMESTAMP.match(event["ts"]), event
        for key in ("started_at", "completed_at", "failed_at", "skipped_at"):
            if key in event:
                assert TIMESTAMP.match(event[key]), (key, event)


def test_the_scenarios_reach_every_event_type():
    assert {t for _, expected in SCENARIOS.values() for t in expected} == set(FIELDS)
