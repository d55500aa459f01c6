"""track_worker_function(function_name, start_mode = 'http'): the two-argument form of core 0.15,
which replaced the one-argument form (a one-argument call reaches it through the default)."""

import psycopg
import pytest

from tests.sql.helpers import rows, scalar


def test_a_process_worker_registers_its_start_mode(conn):
    conn.execute("SELECT pgflow.track_worker_function('node-worker', 'process')")
    [row] = rows(conn, "SELECT * FROM pgflow.worker_functions")
    assert (row["start_mode"], row["last_invoked_at"]) == ("process", None)


def test_a_second_call_overwrites_the_start_mode_and_keeps_last_invoked_at(conn):
    conn.execute("SELECT pgflow.track_worker_function('edge-worker')")
    conn.execute("UPDATE pgflow.worker_functions SET last_invoked_at = now() - interval '1 minute'")
    [before] = rows(conn, "SELECT * FROM pgflow.worker_functions")
    conn.execute("SELECT pgflow.track_worker_function('edge-worker', 'process')")
    [after] = rows(conn, "SELECT * FROM pgflow.worker_functions")
    assert (before["start_mode"], after["start_mode"]) == ("http", "process")
    assert after["last_invoked_at"] == before["last_invoked_at"]


def test_only_one_form_exists(conn):
    assert scalar(conn, "SELECT count(*) FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace"
                        " WHERE n.nspname = 'pgflow' AND p.proname = 'track_worker_function'") == 1
    assert scalar(conn, "SELECT pg_get_function_identity_arguments('pgflow.track_worker_function(text, text)'"
                        "::regprocedure)") == "function_name text, start_mode text"


def test_an_unknown_start_mode_is_refused_by_the_check(conn):
    with pytest.raises(psycopg.errors.CheckViolation, match="worker_functions_start_mode_check"):
        conn.execute("SELECT pgflow.track_worker_function('odd', 'cron')")
