"""Every SQL block of docs/guides/operations.md runs, in order, on an installed database with a
compiled flow and a few runs (inside one transaction, rolled back: the roles it creates go too),
and the blocks whose effect can be seen do what the guide says."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

import pgflow
from pgflow import migrate
from pgflow.db import run_sync

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "operations.md"
BLOCK = re.compile(r"```sql\n(.*?)```", re.S)


def sql_blocks() -> list[str]:
    return BLOCK.findall(GUIDE.read_text())


def test_the_guide_has_sql_blocks_for_each_topic():
    text = "\n".join(sql_blocks())
    for needle in ("pg_stat_activity", "autovacuum_vacuum_scale_factor", "prune_data_older_than",
                   "schema_migrations", "metrics_all", "pgflow.workers", "CREATE ROLE", "has_function_privilege",
                   "synchronous_commit = off"):
        assert needle in text


def test_every_sql_block_of_the_operations_guide_runs(db_url):
    flow = pgflow.Flow("guide_flow")

    @flow.step
    def only(input):
        return input

    with pgflow.Client(db_url) as client:
        client.compile(flow)
        for n in range(3):
            client.start_flow(flow, {"n": n})
    dbname = conninfo_to_dict(db_url)["dbname"]
    answers: list[list[dict[str, object]]] = []
    with psycopg.connect(db_url, row_factory=dict_row) as conn:
        try:
            for block in sql_blocks():
                cur = conn.execute(block.replace("DATABASE app", f'DATABASE "{dbname}"'))
                answers.append(cur.fetchall() if cur.description else [])
                if "CREATE ROLE pgflow_worker" in block:  # what the guide's `pgflow db grant` lines do
                    for kind in migrate.GRANT_KINDS:
                        run_sync(conn, migrate.grant(f"pgflow_{kind}", kind))
            ts_worker = conn.execute(
                "SELECT rolconfig, pg_has_role('pgflow_ts_worker', 'pgflow_worker', 'USAGE') AS worker "
                "FROM pg_roles WHERE rolname = 'pgflow_ts_worker'").fetchone()
            options = conn.execute(
                "SELECT c.relname, c.reloptions FROM pg_class c "
                "WHERE c.oid IN ('pgmq.q_guide_flow'::regclass, 'pgflow.step_tasks'::regclass) ORDER BY 1"
            ).fetchall()
        finally:
            conn.rollback()
    assert [row["relname"] for row in options] == ["q_guide_flow", "step_tasks"]
    assert "autovacuum_vacuum_threshold=1000" in options[0]["reloptions"]
    assert "autovacuum_vacuum_scale_factor=0.02" in options[1]["reloptions"]
    by_status = next(a for a in answers if a and "runs" in a[0] and "flow_slug" in a[0])
    assert by_status == [{"flow_slug": "guide_flow", "status": "started", "runs": 3}]
    depth = next(a for a in answers if a and "queue_length" in a[0])
    assert {"queue_name": "guide_flow", "queue_length": 3} in [
        {k: row[k] for k in ("queue_name", "queue_length")} for row in depth]
    assert ts_worker == {"rolconfig": ["synchronous_commit=off"], "worker": True}
    granted = next(a for a in answers if a and "proname" in a[0])
    assert [(row["rolname"], row["proname"]) for row in granted] == [
        ("pgflow_client", "get_run_with_states"),
        ("pgflow_client", "start_flow_with_states"),
        ("pgflow_dashboard", "get_run_with_states"),
        ("pgflow_worker", "get_run_with_states"),
        ("pgflow_worker", "requeue_stalled_tasks"),
        ("pgflow_worker", "start_flow_with_states"),
    ]
