"""max_running_per_key: each run's concurrency key (from a path into its input, or a run option),
admission per key at claim time, the fair read between keys, and why a run waits."""

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.sql.helpers import (complete_task, define_flow, queue_messages, register_worker, rows, run_row, scalar,
                               start_flow)


def _limits(conn, limits, flow="f"):
    return scalar(conn, "SELECT pgflow.set_flow_limits(%s, %s)", (flow, Jsonb(limits)))


def _claim(conn, worker_id, qty=10, flow="f"):
    return [r for r in rows(conn, "SELECT * FROM pgflow.claim_tasks(%s, %s, %s)", (flow, qty, worker_id)) if r["run_id"]]


def _key_of(conn, run_id):
    return run_row(conn, run_id)["concurrency_key"]


def _job(conn, flow="f"):
    define_flow(conn, flow, [("job", [], {})])


def test_a_run_takes_its_key_from_the_input_path_and_a_missing_key_is_the_no_key_group(conn):
    _job(conn)
    before = start_flow(conn, "f", {"customer": {"id": 7}})
    _limits(conn, {"concurrency_key": "customer.id", "max_running_per_key": 1})

    keyed = start_flow(conn, "f", {"customer": {"id": 7}})
    text = start_flow(conn, "f", {"customer": {"id": "acme"}})
    missing = start_flow(conn, "f", {"other": 1})
    null = start_flow(conn, "f", {"customer": {"id": None}})

    assert [_key_of(conn, r) for r in (keyed, text, missing, null)] == ["7", "acme", "", ""]
    assert _key_of(conn, before) == "7"  # a started run without a key gets one when the limit appears


def test_a_run_option_key_wins_over_the_path_and_a_flow_without_key_stores_none(conn):
    _job(conn)
    _job(conn, "g")
    _limits(conn, {"concurrency_key": "customer", "max_running_per_key": 2})
    conn.execute("SELECT set_config('pgflow.run_options', '{\"concurrency_key\": \"from-python\"}', true)")
    chosen = start_flow(conn, "f", {"customer": "x"})
    plain = start_flow(conn, "g", {"customer": "x"})

    assert _key_of(conn, chosen) == "from-python"
    assert _key_of(conn, plain) is None


def test_claims_admit_at_most_max_running_per_key_per_key(conn):
    _job(conn)
    _limits(conn, {"concurrency_key": "tenant", "max_running_per_key": 2})
    runs = {tenant: [start_flow(conn, "f", {"tenant": tenant, "i": i}) for i in range(4)] for tenant in ("a", "b")}
    worker_id = register_worker(conn, "f")

    claimed = _claim(conn, worker_id)
    again = _claim(conn, worker_id)

    by_run = {r: t for t, ids in runs.items() for r in ids}
    assert sorted(by_run[c["run_id"]] for c in claimed) == ["a", "a", "b", "b"]
    assert again == []
    complete_task(conn, claimed[0]["run_id"], "job", 0, {})
    conn.execute("UPDATE pgmq.q_f SET vt = clock_timestamp()")  # refused or hidden: visible now
    freed = _claim(conn, worker_id)
    assert [by_run[c["run_id"]] for c in freed] == [by_run[claimed[0]["run_id"]]]


def test_the_fair_read_reaches_a_key_queued_after_a_long_backlog(conn):
    _job(conn)
    _limits(conn, {"concurrency_key": "tenant", "max_running_per_key": 1})
    conn.execute("SELECT pgflow.start_flow('f', jsonb_build_object('tenant', 'a', 'i', g)) "
                 "FROM generate_series(1, 300) AS g")
    late = start_flow(conn, "f", {"tenant": "b"})
    worker_id = register_worker(conn, "f")

    first = _claim(conn, worker_id, qty=5)

    assert late in {c["run_id"] for c in first}
    assert len(first) == 2  # one of a, one of b: a's other messages were not even read
    assert sum(m["read_ct"] for m in queue_messages(conn, "f")) == 2
    # every key full: a row without a task tells the worker to look again soon
    full = rows(conn, "SELECT * FROM pgflow.claim_tasks('f', 5, %s)", (worker_id,))
    assert [(r["messages"], r["run_id"]) for r in full] == [(0, None)]


def test_held_by_names_the_key_whose_slots_are_full(conn):
    _job(conn)
    _limits(conn, {"concurrency_key": "tenant", "max_running_per_key": 1})
    running = start_flow(conn, "f", {"tenant": "a"})
    waiting = start_flow(conn, "f", {"tenant": "a"})
    keyless = start_flow(conn, "f", {})
    worker_id = register_worker(conn, "f")
    _claim(conn, worker_id)

    assert scalar(conn, "SELECT pgflow._run_held_by(%s)", (waiting,)) == \
        'concurrency limit: key "a" max_running_per_key 1 (1 running)'
    assert scalar(conn, "SELECT pgflow._run_held_by(%s)", (running,)) is None
    assert scalar(conn, "SELECT pgflow._run_held_by(%s)", (keyless,)) is None  # claimed: its group had room
    blocked = start_flow(conn, "f", {"tenant": None})
    assert scalar(conn, "SELECT pgflow._run_held_by(%s)", (blocked,)) == \
        "concurrency limit: key (none) max_running_per_key 1 (1 running)"


def test_held_by_says_when_steps_wait_for_their_parents_and_when_a_task_stalled(conn):
    define_flow(conn, "f", [("fetch", [], {}), ("report", ["fetch"], {})])
    run_id = start_flow(conn, "f", {})
    worker_id = register_worker(conn, "f")
    _claim(conn, worker_id)

    assert scalar(conn, "SELECT pgflow._run_held_by(%s)", (run_id,)) == "dependencies: report waits for fetch"
    conn.execute("UPDATE pgflow.step_tasks SET queued_at = now() - interval '2 hours', started_at = now() - interval '1 hour' WHERE run_id = %s", (run_id,))
    held = scalar(conn, "SELECT pgflow._run_held_by(%s)", (run_id,))
    assert held.startswith("stalled: step fetch task 0 started ") and "timeout 60 s passed" in held


@pytest.mark.parametrize(("limits", "message"), [
    ({"max_running_per_key": 0}, "max_running_per_key of flow 'f' must be a whole number of at least 1, got 0"),
    ({"max_running_per_key": -2}, "max_running_per_key of flow 'f' must be a whole number of at least 1, got -2"),
    ({"concurrency_key": 7}, "concurrency_key of flow 'f' must be a path into the run input"),
    ({"concurrency_key": "a..b"}, "concurrency_key of flow 'f' must be a path into the run input"),
    ({"steps": {"job": {"max_running_per_key": 1}}}, "unknown limit 'max_running_per_key' for step 'job' of flow 'f'"),
])
def test_bad_per_key_limits_are_refused_naming_the_option_and_the_flow(conn, limits, message):
    _job(conn)
    with pytest.raises(psycopg.Error) as raised:
        _limits(conn, limits)
    assert message in str(raised.value)
