"""A claim stays a few index probes per message when the statistics say nothing is queued.

Autovacuum analyzes step_tasks whenever it likes, often while nothing is queued; a 10,000-task
map started afterwards must not make every claim scan every queued task. With such statistics
the planner took the partial index of queued tasks, estimated empty, to look up each message's
task: a scan of the whole index, and a heap visit per queued task, for every message claimed
(a 10,000-item map ran three to four times slower). The claims' statements have generic plans,
made at a session's first claim: here the statistics are taken first, in committed state, and
a fresh session claims.
"""

import json

import psycopg

from tests.sql.helpers import define_flow, register_worker, start_flow

ITEMS = 10000
BOUND = 1000  # buffers a claim of 10 may touch: about 460 with probes, 2,000 with the scans


def claim_buffers(conn, flow, worker, qty=10):
    """Buffers one claim_tasks call touched, and the tasks of the flow now started."""
    (plan,) = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT * FROM pgflow.claim_tasks(%s, %s, %s)",
                           (flow, qty, worker)).fetchone()[0]
    started = conn.execute("SELECT count(*) FROM pgflow.step_tasks WHERE flow_slug = %s AND status = 'started'",
                           (flow,)).fetchone()[0]
    return plan["Plan"]["Shared Hit Blocks"] + plan["Plan"]["Shared Read Blocks"], started


def analyzed_while_nothing_queued_then_mapped(db_url, flow, limits=None):
    """A history of finished tasks, statistics taken while none is queued, then a large map."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        define_flow(conn, "history", [("only", [])])
        define_flow(conn, flow, [("each", [], {"step_type": "map"})])
        if limits is not None:
            conn.execute("SELECT pgflow.set_flow_limits(%s, %s)", (flow, json.dumps(limits)))
        for _ in range(300):
            start_flow(conn, "history", {})
        worker = register_worker(conn, "history")
        while conn.execute("SELECT count(*) FROM pgflow.claim_tasks('history', 100, %s)", (worker,)).fetchone()[0]:
            pass
        conn.execute("SELECT pgflow.complete_task(run_id, step_slug, task_index, '{}') FROM pgflow.step_tasks "
                     "WHERE flow_slug = 'history'")
        conn.execute("VACUUM ANALYZE pgflow.step_tasks")
        start_flow(conn, flow, list(range(ITEMS)))
        return register_worker(conn, flow)


def test_a_claim_on_a_large_map_probes_each_message_by_its_index(db_url):
    worker = analyzed_while_nothing_queued_then_mapped(db_url, "wide")
    with psycopg.connect(db_url, autocommit=True) as conn:
        claim_buffers(conn, "wide", worker)  # the session's generic plans are made here
        buffers, started = claim_buffers(conn, "wide", worker)
    assert started == 20
    assert buffers < BOUND, f"a claim of 10 tasks touched {buffers} buffers"


def test_a_limited_flow_admits_a_large_map_by_index_probes_too(db_url):
    worker = analyzed_while_nothing_queued_then_mapped(db_url, "wide_limited", {"max_running": 15})
    with psycopg.connect(db_url, autocommit=True) as conn:
        claim_buffers(conn, "wide_limited", worker)
        buffers, started = claim_buffers(conn, "wide_limited", worker)
    assert started == 15  # the second claim admitted 5 of its 10, one by one near the limit
    assert buffers < BOUND, f"a claim near the limit touched {buffers} buffers"
