"""benchmarks.history: the set-based history builder leaves runs as the engine does, and its
pruning report counts what went (a tiny size: no test looks at a timing)."""

from __future__ import annotations

from datetime import timedelta

import psycopg

from benchmarks import history
from benchmarks.env import Server
from benchmarks.systems import pgflow_sys


def test_built_history_is_completed_time_ordered_and_fully_pruned(pg_admin_url):
    server = Server(pg_admin_url)
    dsn = server.fresh_database("bench_history_test")
    try:
        pgflow_sys.setup(dsn)
        history.add_history(dsn, 0, 300)
        history.add_history(dsn, 300, 500)  # grows, ids and message ids do not collide
        with psycopg.connect(dsn, autocommit=True) as conn:
            counts = conn.execute(
                "SELECT (SELECT count(*) FROM pgflow.runs WHERE status = 'completed' AND remaining_steps = 0),"
                "       (SELECT count(*) FROM pgflow.step_states WHERE status = 'completed'),"
                "       (SELECT count(*) FROM pgflow.step_tasks WHERE status = 'completed'),"
                "       (SELECT count(*) FROM pgmq.a_bench_job)").fetchone()
            assert counts == (500, 500, 500, 500)
            # version 7 ids whose time is the run's start, so id order is start order
            ordered = conn.execute(
                "SELECT bool_and(substr(run_id::text, 15, 1) = '7'),"
                "       bool_and(abs(extract(epoch FROM started_at) * 1000"
                "            - ('x' || lpad(replace(left(run_id::text, 13), '-', ''), 16, '0'))::bit(64)::bigint) < 1)"
                " FROM pgflow.runs").fetchone()
            assert ordered == (True, True)
            # every archived message names its task, as complete_task leaves it
            orphans = conn.execute(
                "SELECT count(*) FROM pgmq.a_bench_job a LEFT JOIN pgflow.step_tasks t"
                "  ON t.queue_name = 'bench_job' AND t.message_id = a.msg_id"
                "  AND t.run_id = (a.message->>'run_id')::uuid WHERE t.run_id IS NULL").fetchone()[0]
            assert orphans == 0
        seconds, longest, wal, deleted, dead = history.prune_cost(dsn, timedelta(days=7), batch=150)
        assert deleted["runs"] == deleted["step_tasks"] == deleted["archived_messages"] == 500
        assert wal > 0 and seconds >= longest > 0
        assert dead.get("pgflow.runs", 0) >= 500  # deletes leave dead rows for VACUUM
        with psycopg.connect(dsn, autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM pgflow.runs").fetchone()[0] == 0
        history.add_history(dsn, 500, 600)
        seconds, longest, wal, deleted, dead = history.prune_cost(dsn, timedelta(days=7))  # one call
        assert deleted["runs"] == 100 and seconds == longest
    finally:
        server.drop_database("bench_history_test")


def test_drains_alternate_and_swap_order_every_repetition(pg_admin_url):
    server = Server(pg_admin_url)
    names = ("bench_history_a", "bench_history_b")
    try:
        empty, full = (server.fresh_database(name) for name in names)
        for dsn in (empty, full):
            pgflow_sys.setup(dsn)
        lines: list[str] = []
        pair = history.alternate(empty, full, 2, 20, 60.0, log=lines.append)
        assert [line.split(":")[0] for line in lines] == [
            "rep 1 empty", "rep 1 history", "rep 2 history", "rep 2 empty"]
        assert len(pair.empty) == len(pair.history) == 2 and pair.ratio > 0
    finally:
        for name in names:
            server.drop_database(name)
