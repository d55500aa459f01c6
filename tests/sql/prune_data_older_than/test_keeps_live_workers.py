"""Prune never deletes a live worker's row, whatever the cutoff (a deleted row made every claim of
that worker fail on step_tasks.last_worker_id)."""

from tests.sql.helpers import register_worker, scalar


def _workers(conn):
    return scalar(conn, "SELECT count(*) FROM pgflow.workers")


def test_a_zero_cutoff_keeps_a_worker_that_beat_recently(conn):
    register_worker(conn, "jobs")
    conn.execute("UPDATE pgflow.workers SET last_heartbeat_at = clock_timestamp() - interval '10 seconds'")
    counts = scalar(conn, "SELECT pgflow.prune_data_older_than(interval '0 seconds', NULL::text[])")
    assert counts["workers"] == 0
    assert _workers(conn) == 1


def test_a_stopped_worker_is_pruned_once_older_than_the_cutoff(conn):
    register_worker(conn, "jobs")
    conn.execute("UPDATE pgflow.workers SET last_heartbeat_at = clock_timestamp() - interval '10 seconds', "
                 "stopped_at = clock_timestamp()")
    counts = scalar(conn, "SELECT pgflow.prune_data_older_than(interval '0 seconds', NULL::text[])")
    assert counts["workers"] == 1
    assert _workers(conn) == 0


def test_a_worker_silent_for_five_minutes_is_pruned(conn):
    register_worker(conn, "jobs")
    conn.execute("UPDATE pgflow.workers SET last_heartbeat_at = clock_timestamp() - interval '6 minutes'")
    scalar(conn, "SELECT pgflow.prune_data_older_than(interval '1 minute', NULL::text[])")
    assert _workers(conn) == 0
