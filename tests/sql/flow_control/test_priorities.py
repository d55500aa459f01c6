"""Priorities: claim_tasks reads the tasks of a flow's higher-priority runs first; equal
priorities keep queue order; the prioritized read hides and counts like the default one."""

from psycopg.types.json import Jsonb

from tests.sql.helpers import define_flow, queue_messages, register_worker, rows, scalar, start_flow


def _start(conn, items, priority=0):
    conn.execute("SELECT set_config('pgflow.run_options', %s::text, true)", (Jsonb({"priority": priority}),))
    return start_flow(conn, "f", items)


def _claim(conn, worker_id, qty):
    return [(r["run_id"], r["task_index"]) for r in rows(conn, "SELECT * FROM pgflow.claim_tasks('f', %s, %s)",
                                                         (qty, worker_id)) if r["run_id"]]


def test_higher_priority_runs_are_claimed_first_and_equal_ones_in_order(conn):
    define_flow(conn, "f", [("items", [], {"step_type": "map"})], timeout=30)
    worker_id = register_worker(conn, "f")
    low = _start(conn, [1, 2, 3])
    first_high = _start(conn, [1, 2], priority=5)
    second_high = _start(conn, [1], priority=5)
    top = _start(conn, [1], priority=9)

    assert sorted(_claim(conn, worker_id, 2)) == sorted([(top, 0), (first_high, 0)])
    assert sorted(_claim(conn, worker_id, 2)) == sorted([(first_high, 1), (second_high, 0)])
    assert _claim(conn, worker_id, 10) == [(low, 0), (low, 1), (low, 2)]
    assert scalar(conn, "SELECT priority FROM pgflow.runs WHERE run_id = %s", (top,)) == 9


def test_the_prioritized_read_hides_and_counts_like_the_default_read(conn):
    define_flow(conn, "f", [("items", [], {"step_type": "map"})], timeout=30)
    worker_id = register_worker(conn, "f")
    _start(conn, [1])
    _start(conn, [1], priority=1)
    before = scalar(conn, "SELECT clock_timestamp()")

    assert len(_claim(conn, worker_id, 10)) == 2
    after = scalar(conn, "SELECT clock_timestamp()")
    messages = queue_messages(conn, "f")
    assert [m["read_ct"] for m in messages] == [1, 1]
    for m in messages:
        assert before.timestamp() + 32 <= m["vt"].timestamp() <= after.timestamp() + 32


def test_a_run_without_options_has_the_default_priority(conn):
    define_flow(conn, "f", [("items", [], {"step_type": "map"})])
    run_id = start_flow(conn, "f", [1])
    assert scalar(conn, "SELECT priority FROM pgflow.runs WHERE run_id = %s", (run_id,)) == 0
