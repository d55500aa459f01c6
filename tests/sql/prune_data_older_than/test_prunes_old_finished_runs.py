from tests.sql.helpers import archived_messages, register_worker, rows, scalar, start_flow
from tests.sql.prune_data_older_than.old_data import age, finished_runs


def _run_ids(conn):
    return {r["run_id"] for r in rows(conn, "SELECT run_id FROM pgflow.runs")}


def test_deletes_finished_runs_older_than_the_retention_and_counts_them(conn):
    completed, failed, started = finished_runs(conn, "jobs")
    assert len(archived_messages(conn, "jobs")) == 5  # 3 x first, completed + failed second
    conn.execute("UPDATE pgmq.a_jobs SET archived_at = archived_at - interval '10 days'")
    age(conn, 10)
    fresh = start_flow(conn, "jobs", {"n": 9})
    register_worker(conn, "jobs")  # a worker heard from just now

    counts = scalar(conn, "SELECT pgflow.prune_data_older_than(interval '7 days', NULL)")

    assert _run_ids(conn) == {started, fresh}
    assert counts == {"runs": 2, "step_states": 4, "step_tasks": 4, "messages": 0, "archived_messages": 5,
                      "workers": 1}
    assert scalar(conn, "SELECT count(*) FROM pgflow.step_states WHERE run_id = ANY(%s)",
                  ([completed, failed],)) == 0
    assert archived_messages(conn, "jobs") == []
    assert scalar(conn, "SELECT count(*) FROM pgflow.workers") == 1


def test_keeps_runs_finished_within_the_retention(conn):
    finished_runs(conn, "jobs")
    age(conn, 3)
    counts = scalar(conn, "SELECT pgflow.prune_data_older_than(interval '7 days', NULL)")
    assert counts["runs"] == 0 and len(_run_ids(conn)) == 3
