"""pause_flow / resume_flow: a paused flow's tasks are not claimed, by start_tasks or claim_tasks."""

import psycopg
import pytest

from tests.sql.helpers import define_flow, queue_messages, read_and_start, register_worker, rows, scalar, start_flow


def _map_flow(conn, n=3):
    define_flow(conn, "f", [("items", [], {"step_type": "map"})])
    start_flow(conn, "f", list(range(n)))
    return register_worker(conn, "f")


def test_a_paused_flow_starts_no_task_and_its_messages_come_back_shortly(conn):
    worker_id = _map_flow(conn)
    conn.execute("SELECT pgflow.pause_flow('f', 'incident 42')")

    before = scalar(conn, "SELECT clock_timestamp()")
    assert read_and_start(conn, "f", worker_id, vt=60) == []
    assert scalar(conn, "SELECT count(*) FROM pgflow.step_tasks WHERE status = 'started'") == 0
    # read for 60 s, but refused: visible again within a quarter of a second, not after 60 s
    for message in queue_messages(conn, "f"):
        assert message["vt"].timestamp() - before.timestamp() < 1


def test_claim_tasks_of_a_paused_flow_reads_nothing_and_says_so(conn):
    worker_id = _map_flow(conn)
    conn.execute("SELECT pgflow.pause_flow('f')")

    claimed = rows(conn, "SELECT * FROM pgflow.claim_tasks('f', 10, %s)", (worker_id,))

    assert [(r["messages"], r["run_id"]) for r in claimed] == [(0, None)]
    assert [m["read_ct"] for m in queue_messages(conn, "f")] == [0, 0, 0]


def test_resume_lets_the_queued_tasks_be_claimed_in_queue_order(conn):
    worker_id = _map_flow(conn)
    conn.execute("SELECT pgflow.pause_flow('f')")
    assert scalar(conn, "SELECT pgflow.resume_flow('f')") is True

    claimed = rows(conn, "SELECT * FROM pgflow.claim_tasks('f', 10, %s)", (worker_id,))

    assert [r["task_index"] for r in claimed] == [0, 1, 2]
    assert scalar(conn, "SELECT count(*) FROM pgflow.flow_controls") == 0  # nothing left to control


def test_pause_is_idempotent_and_keeps_the_first_reason(conn):
    _map_flow(conn)
    first = scalar(conn, "SELECT pgflow.pause_flow('f', 'first')")
    second = scalar(conn, "SELECT pgflow.pause_flow('f', 'second')")

    assert first == second
    assert scalar(conn, "SELECT pause_reason FROM pgflow.flow_controls WHERE flow_slug = 'f'") == "first"
    assert scalar(conn, "SELECT pgflow.resume_flow('f')") is True
    assert scalar(conn, "SELECT pgflow.resume_flow('f')") is False


@pytest.mark.parametrize("call", ["SELECT pgflow.pause_flow('nope')", "SELECT pgflow.resume_flow('nope')",
                                  "SELECT pgflow.set_flow_limits('nope', '{\"max_running\": 1}')"])
def test_an_unknown_flow_is_pf001_naming_it(conn, call):
    with pytest.raises(psycopg.Error) as raised:
        conn.execute(call)
    assert raised.value.sqlstate == "PF001"
    assert "'nope'" in str(raised.value)


def test_deleting_the_flow_deletes_its_flow_control(conn):
    _map_flow(conn)
    conn.execute("SELECT pgflow.pause_flow('f')")
    conn.execute("SELECT pgflow.delete_flow_and_data('f')")
    assert scalar(conn, "SELECT count(*) FROM pgflow.flow_controls") == 0
