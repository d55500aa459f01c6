"""Reads that must agree with each other run in one snapshot (pgflow.db.Snapshot)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest

from pgflow.db import Operation, Query
from pgflow.db import Snapshot, drive_sync
from pgflow.ops import runs as run_ops
from tests.helpers import eventually
from tests.sql.helpers import define_flow, start_flow

LOCK_KEY = 7_201_001


def _sql(text: str, fetch: Any = "scalar", params: Any = None) -> Query:
    return Query(text, params, fetch, named=False)


def count_flows_around_a_wait(together: bool) -> Operation[tuple[int, int]]:
    """Count flows, wait for the test's advisory lock, count again (in a Snapshot or not)."""
    queries = (_sql("SELECT count(*) FROM pgflow.flows"),
               _sql("SELECT pg_advisory_xact_lock(%s)", "none", (LOCK_KEY,)),
               _sql("SELECT count(*) FROM pgflow.flows"))
    if together:
        before, _, after = yield Snapshot(queries)
    else:
        before = yield queries[0]
        yield queries[1]
        after = yield queries[2]
    return before, after


@pytest.mark.parametrize("together", [True, False], ids=["snapshot", "plain"])
def test_a_snapshot_does_not_see_what_commits_between_its_queries(db_url: str, together: bool) -> None:
    with psycopg.connect(db_url, autocommit=True) as holder, psycopg.connect(db_url, autocommit=True) as reader, \
            psycopg.connect(db_url, autocommit=True) as writer, ThreadPoolExecutor(1) as pool:
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        counted = pool.submit(drive_sync, reader, count_flows_around_a_wait(together))
        eventually(lambda: holder.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                          "AND NOT granted").fetchone()[0] == 1,
                   message="the reader waits for the lock between its two counts")
        writer.execute("SELECT pgflow.create_flow('committed_meanwhile')")
        holder.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
        before, after = counted.result(timeout=30)
    assert after == (before if together else before + 1)


def test_a_snapshot_inside_the_callers_transaction_reads_in_that_transaction(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        define_flow(conn, "uncommitted", [("only", [])])
        run_id = start_flow(conn, "uncommitted", {"n": 1})  # not committed: only this transaction sees it
        run = drive_sync(conn, run_ops.get_run_with_states(run_id))
        assert (run.status, [s.step_slug for s in run.step_states]) == ("started", ["only"])
        assert [t.status for t in run.step("only").tasks] == ["queued"]
        conn.rollback()
