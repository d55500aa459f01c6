"""The hidden-failure check: 1,000 runs waiting on signals hold no worker slot and no open
transaction while they wait, and all complete once signalled."""

from __future__ import annotations

import psycopg

import pgflow
from tests.acceptance.worker.conftest import StartWorker
from tests.acceptance.worker.test_worker_cli import ready
from tests.helpers import eventually

FLOWS = "tests.acceptance.waits.flows"
RUNS = 1000


def _one(db_url: str, sql: str, params: tuple = ()) -> object:
    with psycopg.connect(db_url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchone()[0]


def test_a_thousand_waiting_runs_hold_no_worker_slot_and_no_transaction(db_url, start_worker: StartWorker):
    worker = start_worker(f"{FLOWS}:gate", "--concurrency", "2")
    ready(worker)
    database = _one(db_url, "SELECT current_database()")
    _one(db_url, "SELECT count(*) FROM generate_series(1, %s) AS i "
                 "CROSS JOIN LATERAL pgflow.start_flow('gate_flow', jsonb_build_object('i', i))", (RUNS,))
    waiting = "SELECT count(*) FROM pgflow.waits JOIN pgflow.runs USING (run_id) WHERE runs.flow_slug = 'gate_flow'"
    assert _one(db_url, waiting) == RUNS
    sessions = ("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() "
                "AND state = 'idle in transaction'")
    connections = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
    before = _one(db_url, connections, (database,))
    for _ in range(3):  # a few looks while the worker polls and wakes
        assert _one(db_url, sessions, (database,)) == 0
        assert _one(db_url, "SELECT count(*) FROM pgflow.step_tasks WHERE status = 'started'") == 0
        assert _one(db_url, "SELECT count(*) FROM pgmq.q_gate_flow") == 0  # no message for a waiting step
    assert _one(db_url, connections, (database,)) == before  # waiting opens no connection per run
    assert before <= 10, before  # the worker's pool, whatever the number of waiting runs

    with pgflow.Client(db_url) as client:
        run_ids = [r.run_id for r in client.list_runs("gate_flow", limit=RUNS)]
        for run_id in run_ids[:50]:
            assert client.signal(run_id, "opened", {"ok": 1}).outcome == "delivered"
    _one(db_url, "SELECT count(pgflow.signal(r.run_id, 'opened', '1')) FROM pgflow.runs AS r "
                 "WHERE r.flow_slug = 'gate_flow' AND r.status = 'started' AND NOT EXISTS "
                 "(SELECT 1 FROM pgflow.signals s WHERE s.run_id = r.run_id)")
    eventually(lambda: _one(db_url, "SELECT count(*) FROM pgflow.runs WHERE flow_slug = 'gate_flow' "
                                    "AND status = 'completed'") == RUNS,
               timeout=120, message="every signalled run completes")
