"""Claims of a flow far below its max_running share its claim lock; near the limit they take it
in turn. A claim under the shared lock leaves room for the batches of every other session that
may hold it too (max_connections - 1 batches of at most 50), so the limit still holds."""

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from tests.helpers import eventually
from tests.sql.helpers import (define_flow, in_thread, join_and_close, read_and_start, register_worker, scalar,
                               start_flow, waits_for_a_lock)


def _map_flow(conn: psycopg.Connection, items: int, limits: dict[str, Any]) -> Any:
    define_flow(conn, "f", [("items", [], {"step_type": "map"})])
    start_flow(conn, "f", list(range(items)))
    worker_id = register_worker(conn, "f")
    scalar(conn, "SELECT pgflow.set_flow_limits('f', %s)", (Jsonb(limits),))
    conn.commit()
    return worker_id


def _slack(conn: psycopg.Connection) -> int:
    """The room a claim under the shared lock keeps for the other sessions'."""
    return (int(scalar(conn, "SHOW max_connections")) - 1) * 50


def _lock_mode(conn: psycopg.Connection) -> str:
    """The mode in which this session holds the flow's claim lock (its transaction is open)."""
    return scalar(conn, "SELECT mode FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
                        "AND classid = 3 AND objid = hashtext('f')::oid")


def test_claims_far_below_the_limit_do_not_wait_for_each_other(db_url):
    with psycopg.connect(db_url) as first:
        worker_id = _map_flow(first, 20, {"max_running": 1_000_000})
        assert len(read_and_start(first, "f", worker_id, qty=10)) == 10  # not committed: holds the lock
        assert _lock_mode(first) == "ShareLock"
        results: list[Any] = []
        thread, conn = in_thread(db_url, lambda c: read_and_start(c, "f", worker_id, qty=10), results)
        thread.join(timeout=10)
        finished = not thread.is_alive()
        first.commit()
        join_and_close(thread, conn)

        assert finished, "the second claim waited for the first one's commit"
        [claimed] = results
        assert len(claimed) == 10


def test_the_lock_is_shared_only_with_room_for_every_sessions_batch(db_url):
    with psycopg.connect(db_url) as conn:
        slack = _slack(conn)
        worker_id = _map_flow(conn, 10, {"steps": {"items": {"max_running": slack + 10}}})
        read_and_start(conn, "f", worker_id, qty=10)
        assert _lock_mode(conn) == "ShareLock"
        conn.rollback()

        scalar(conn, "SELECT pgflow.set_flow_limits('f', %s)", (Jsonb({"max_running": slack + 9}),))
        conn.commit()
        assert len(read_and_start(conn, "f", worker_id, qty=10)) == 10  # one slot short: in turn, all fit
        assert _lock_mode(conn) == "ExclusiveLock"
        conn.rollback()

        assert len(read_and_start(conn, "f", worker_id, qty=51)) == 10  # a batch of over 50: in turn
        assert _lock_mode(conn) == "ExclusiveLock"


def test_near_the_limit_a_claim_waits_for_the_one_before_and_counts_its_tasks(db_url):
    with psycopg.connect(db_url) as first, psycopg.connect(db_url, autocommit=True) as observer:
        worker_id = _map_flow(first, 30, {"max_running": 20})
        assert len(read_and_start(first, "f", worker_id, qty=15)) == 15
        results: list[Any] = []
        thread, conn = in_thread(db_url, lambda c: read_and_start(c, "f", worker_id, qty=15), results)
        eventually(lambda: waits_for_a_lock(observer, conn))
        first.commit()
        join_and_close(thread, conn)

        [claimed] = results
        assert len(claimed) == 5
        assert scalar(first, "SELECT count(*) FROM pgflow.step_tasks WHERE status = 'started'") == 20


def test_a_claim_that_shares_the_lock_keeps_the_room_of_the_others(db_url):
    """A claim decided it was far below the limit, then waited for the lock while another claim
    committed tasks: under the shared lock it admits only while the slack stays free."""
    with psycopg.connect(db_url) as first, psycopg.connect(db_url, autocommit=True) as observer:
        slack = _slack(first)
        worker_id = _map_flow(first, 18, {"max_running": slack + 15})
        scalar(first, "SELECT pg_advisory_xact_lock(3, hashtext('f'))")  # as a claim near the limit holds it
        assert len(read_and_start(first, "f", worker_id, qty=8)) == 8
        results: list[Any] = []
        thread, conn = in_thread(db_url, lambda c: read_and_start(c, "f", worker_id, qty=10), results)
        eventually(lambda: waits_for_a_lock(observer, conn))  # counted 0 running: shares the lock, once free
        first.commit()
        join_and_close(thread, conn)

        [claimed] = results
        assert len(claimed) == 7  # 8 running + 7 + the slack = the limit
