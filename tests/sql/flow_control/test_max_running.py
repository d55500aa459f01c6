"""max_running: a claim admits tasks only while the running ones leave room (flow and step)."""

from psycopg.types.json import Jsonb

from tests.sql.helpers import define_flow, queue_messages, read_and_start, register_worker, rows, scalar, start_flow


def _limits(conn, limits):
    return scalar(conn, "SELECT pgflow.set_flow_limits('f', %s)", (Jsonb(limits),))


def test_start_tasks_admits_only_up_to_max_running_in_message_order(conn):
    define_flow(conn, "f", [("items", [], {"step_type": "map"})])
    start_flow(conn, "f", list(range(5)))
    worker_id = register_worker(conn, "f")
    _limits(conn, {"max_running": 2})

    before = scalar(conn, "SELECT clock_timestamp()")
    first = read_and_start(conn, "f", worker_id, vt=60)

    assert [t["task_index"] for t in first] == [0, 1]
    refused = [m for m in queue_messages(conn, "f") if m["msg_id"] not in {t["msg_id"] for t in first}]
    assert len(refused) == 3
    assert all(m["vt"].timestamp() - before.timestamp() < 1 for m in refused)


def test_a_finished_task_frees_its_slot(conn):
    define_flow(conn, "f", [("items", [], {"step_type": "map"})])
    run_id = start_flow(conn, "f", list(range(3)))
    worker_id = register_worker(conn, "f")
    _limits(conn, {"max_running": 1})
    claimed = rows(conn, "SELECT * FROM pgflow.claim_tasks('f', 10, %s)", (worker_id,))
    assert [r["task_index"] for r in claimed if r["run_id"]] == [0]

    conn.execute("SELECT pgflow.complete_task(%s, 'items', 0, '1')", (run_id,))
    conn.execute("UPDATE pgmq.q_f SET vt = clock_timestamp()")  # the refused messages, visible now
    again = rows(conn, "SELECT * FROM pgflow.claim_tasks('f', 10, %s)", (worker_id,))

    assert [r["task_index"] for r in again if r["run_id"]] == [1]


def test_claim_tasks_reads_no_more_than_the_room_left_and_flags_it(conn):
    define_flow(conn, "f", [("items", [], {"step_type": "map"})])
    start_flow(conn, "f", list(range(5)))
    worker_id = register_worker(conn, "f")
    _limits(conn, {"max_running": 3})

    claimed = rows(conn, "SELECT * FROM pgflow.claim_tasks('f', 10, %s)", (worker_id,))

    assert [r["task_index"] for r in claimed if r["run_id"]] == [0, 1, 2]
    assert [r["messages"] for r in claimed if r["run_id"] is None] == [3]  # "look again shortly"
    assert sorted(m["read_ct"] for m in queue_messages(conn, "f")) == [0, 0, 1, 1, 1]
    full = rows(conn, "SELECT * FROM pgflow.claim_tasks('f', 10, %s)", (worker_id,))
    assert [(r["messages"], r["run_id"]) for r in full] == [(0, None)]


def test_a_step_limit_holds_back_that_step_only(conn):
    define_flow(conn, "f", [("a", [], {"step_type": "map"}), ("b", [], {"step_type": "map"})])
    start_flow(conn, "f", [1, 2, 3])
    worker_id = register_worker(conn, "f")
    _limits(conn, {"steps": {"a": {"max_running": 1}}})

    claimed = rows(conn, "SELECT * FROM pgflow.claim_tasks('f', 10, %s)", (worker_id,))

    started = sorted((r["step_slug"], r["task_index"]) for r in claimed if r["run_id"])
    assert started == [("a", 0), ("b", 0), ("b", 1), ("b", 2)]


def test_a_flow_without_flow_control_claims_as_before(conn):
    define_flow(conn, "f", [("items", [], {"step_type": "map"})])
    start_flow(conn, "f", list(range(4)))
    worker_id = register_worker(conn, "f")

    claimed = rows(conn, "SELECT * FROM pgflow.claim_tasks('f', 10, %s)", (worker_id,))

    assert [r["task_index"] for r in claimed] == [0, 1, 2, 3]
    assert all(r["run_id"] for r in claimed)
