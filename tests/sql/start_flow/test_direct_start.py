"""start_flow writes the usual run in one statement (_start_run_directly): the same rows and
events as the general path (_create_run, conditions, taskless steps, start_ready_steps), and
runs that need a decision still take the general path."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.sql.helpers import define_flow, drain_notifies, listener, rows, scalar

CASES: dict[str, tuple[list[Any], Any]] = {
    "job": ([("only", [])], {"n": 1}),
    "two_roots": ([("a", []), ("b", []), ("join", ["a", "b"]), ("last", ["join"], {"step_type": "map"})], {"x": 1}),
    "root_map": ([("each", [], {"step_type": "map"}), ("after", ["each"])], [1, 2, 3]),
    "delayed": ([("late", [], {"start_delay": 30}), ("soon", [])], {}),
    "dependent_condition": ([("a", []), ("b", ["a"], {"required_input_pattern": {"a": 1}})], {}),
}

GENERAL_PATH = [
    "SELECT pgflow.cascade_resolve_conditions(%(run_id)s)",
    "SELECT pgflow.cascade_complete_taskless_steps(%(run_id)s)",
    "SELECT pgflow.start_ready_steps(%(run_id)s)",
    "SELECT pgflow.maybe_complete_run(%(run_id)s)",
]


def start_general(conn: psycopg.Connection, flow: str, flow_input: Any) -> uuid.UUID:
    conn.execute("SELECT pgflow._check_run_input(%s, %s)", (flow, Jsonb(flow_input)))
    run_id = scalar(conn, "SELECT pgflow._create_run(%s, %s, NULL)", (flow, Jsonb(flow_input)))
    for statement in GENERAL_PATH:
        conn.execute(statement, {"run_id": run_id})
    return run_id


def start_direct(conn: psycopg.Connection, flow: str, flow_input: Any) -> uuid.UUID:
    run_id = scalar(conn, "SELECT pgflow._start_run_directly(%s, %s, NULL)", (flow, Jsonb(flow_input)))
    assert run_id is not None, "the direct path refused a run it should write"
    return run_id


def snapshot(conn: psycopg.Connection, flow: str, run_id: uuid.UUID) -> dict[str, Any]:
    """Everything the start wrote, without what differs by nature (ids, message ids)."""
    run = rows(conn, "SELECT * FROM pgflow.runs WHERE run_id = %s", (run_id,))
    states = rows(conn, "SELECT * FROM pgflow.step_states WHERE run_id = %s ORDER BY step_slug", (run_id,))
    tasks = rows(conn, "SELECT * FROM pgflow.step_tasks WHERE run_id = %s ORDER BY step_slug, task_index", (run_id,))
    messages = rows(conn, f"SELECT message, read_ct, vt - clock_timestamp() > interval '20 s' AS hidden "
                          f"FROM pgmq.q_{flow} WHERE message->>'run_id' = %s "
                          # in send order within a step; which step's batch goes first is not a rule
                          f"ORDER BY message->>'step_slug', msg_id", (str(run_id),))
    for row in run + states + tasks:
        row.pop("run_id")
    for task in tasks:
        assert task.pop("message_id") is not None
    for message in messages:
        message["message"].pop("run_id")
    return {"run": run, "states": states, "tasks": tasks, "messages": messages}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_rows_as_the_general_path(conn, case):
    steps, flow_input = CASES[case]
    define_flow(conn, case, steps)
    general = snapshot(conn, case, start_general(conn, case, flow_input))
    direct = snapshot(conn, case, start_direct(conn, case, flow_input))
    assert direct == general
    assert any(s["status"] == "started" for s in direct["states"]) and direct["tasks"]


def test_start_flow_takes_the_direct_path(conn):
    define_flow(conn, "usual", [("a", []), ("b", ["a"])])
    before = scalar(conn, "SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relid = 'pgflow.step_states'::regclass")
    run_id = scalar(conn, "SELECT run_id FROM pgflow.start_flow('usual', '{}')")
    after = scalar(conn, "SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relid = 'pgflow.step_states'::regclass")
    assert after == before  # the root step was inserted started, not inserted then updated
    assert [s["status"] for s in rows(conn, "SELECT status FROM pgflow.step_states WHERE run_id = %s "
                                            "ORDER BY step_slug", (run_id,))] == ["started", "created"]


@pytest.mark.parametrize(("steps", "flow_input"), [
    ([("a", [], {"required_input_pattern": {"go": True}})], {"go": True}),  # a root condition, even if met
    ([("a", [], {"forbidden_input_pattern": {"stop": True}})], {}),
    ([("each", [], {"step_type": "map"})], []),  # a taskless root map
    ([("each", [], {"step_type": "map"})], {"not": "an array"}),  # start_flow raises PF003
    ([("a", []), ("each", [], {"step_type": "map"})], []),
])
def test_runs_that_need_a_decision_take_the_general_path(conn, steps, flow_input):
    define_flow(conn, "decide", steps)
    assert scalar(conn, "SELECT pgflow._start_run_directly('decide', %s, NULL)", (Jsonb(flow_input),)) is None
    assert scalar(conn, "SELECT count(*) FROM pgflow.runs WHERE flow_slug = 'decide'") == 0
    assert scalar(conn, "SELECT count(*) FROM pgmq.q_decide") == 0


def test_unknown_flows_and_null_inputs_take_the_general_path(conn):
    define_flow(conn, "known", [("a", [])])
    assert scalar(conn, "SELECT pgflow._start_run_directly('nope', '{}', NULL)") is None
    assert scalar(conn, "SELECT pgflow._start_run_directly('known', NULL, NULL)") is None
    assert scalar(conn, "SELECT count(*) FROM pgflow.runs") == 0


def test_same_events_in_the_same_order(db_url):
    def events(flow: str, start: Any) -> list[dict[str, Any]]:
        with listener(db_url) as listen, psycopg.connect(db_url) as conn:
            define_flow(conn, flow, CASES["two_roots"][0])
            conn.commit()
            run_id = start(conn, flow, {"x": 1})
            conn.commit()
            got = drain_notifies(listen, timeout=5, stop_after=3)
        for event in got:
            assert event.pop("run_id") == str(run_id) and event.pop("flow_slug") == flow
            assert event.pop("started_at") and event.pop("ts")
        return got

    general = events("events_general", start_general)
    direct = events("events_direct", start_direct)
    assert [e["event_type"] for e in direct] == ["run:started", "step:started", "step:started"]
    assert direct[0] == general[0]
    assert sorted(direct[1:], key=lambda e: e["step_slug"]) == sorted(general[1:], key=lambda e: e["step_slug"])
