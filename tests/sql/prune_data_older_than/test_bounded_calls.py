"""The three-argument form: at most max_runs runs (earliest started first) and max_runs archived
messages per queue per call; repeated calls prune what one unbounded call would."""

import psycopg
import pytest

from tests.sql.helpers import archived_messages, register_worker, rows, scalar, start_flow
from tests.sql.prune_data_older_than.old_data import age, finished_runs

TOTAL = {"runs": 2, "step_states": 4, "step_tasks": 4, "messages": 0, "archived_messages": 5, "workers": 1}


def _old_history(conn):
    completed, failed, started = finished_runs(conn, "jobs")
    conn.execute("UPDATE pgmq.a_jobs SET archived_at = archived_at - interval '10 days'")
    age(conn, 10)
    fresh = start_flow(conn, "jobs", {"n": 9})
    register_worker(conn, "jobs")
    return completed, failed, started, fresh


def test_calls_of_one_run_each_add_up_to_the_unbounded_prune(conn):
    completed, failed, started, fresh = _old_history(conn)
    first = scalar(conn, "SELECT pgflow.prune_data_older_than(interval '7 days', NULL, 1)")
    assert first["runs"] == 1 and first["archived_messages"] == 1
    # the run that started first went first
    assert {r["run_id"] for r in rows(conn, "SELECT run_id FROM pgflow.runs")} == {failed, started, fresh}

    total, calls, last = dict(first), 1, first
    while last["runs"] == 1 or last["archived_messages"] == 1:  # a full batch: there may be more
        last = scalar(conn, "SELECT pgflow.prune_data_older_than(interval '7 days', NULL, 1)")
        total = {k: total[k] + last[k] for k in total}
        calls += 1
        assert calls < 20
    assert total == TOTAL
    assert calls == 6  # 5 archived messages one per call, then a call that finds nothing
    assert {r["run_id"] for r in rows(conn, "SELECT run_id FROM pgflow.runs")} == {started, fresh}
    assert archived_messages(conn, "jobs") == []


def test_a_bound_above_the_backlog_prunes_it_all_in_one_call(conn):
    _old_history(conn)
    assert scalar(conn, "SELECT pgflow.prune_data_older_than(interval '7 days', NULL, 1000)") == TOTAL


def test_a_bound_below_one_is_refused_with_what_to_pass(conn):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="max_runs must be at least 1, got 0") as err:
        conn.execute("SELECT pgflow.prune_data_older_than(interval '7 days', NULL, 0)")
    assert "NULL for no bound" in (err.value.diag.message_hint or "")
