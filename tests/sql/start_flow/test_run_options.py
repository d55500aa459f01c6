"""Run options (pgflow._run_options): set by a client in the statement before a start, read by
the run insert, and cleared by start_flow so they serve one run only — on both paths of
start_flow (the one-statement start and the general one)."""

from __future__ import annotations

import pytest
from psycopg.types.json import Jsonb

from pgflow.db import run_sync
from pgflow.ops.runs import start_options
from tests.sql.helpers import define_flow, scalar

FLOWS = {
    "direct": [("only", [])],
    "general": [("only", [], {"required_input_pattern": {"go": True}})],
}


@pytest.mark.parametrize("path", sorted(FLOWS))
def test_options_serve_one_run(conn, path):
    define_flow(conn, path, FLOWS[path])
    conn.execute("SELECT set_config('pgflow.run_options', %s, true)", ('{"note": 1}',))
    assert scalar(conn, "SELECT pgflow._run_options()") == {"note": 1}
    scalar(conn, "SELECT run_id FROM pgflow.start_flow(%s, %s)", (path, Jsonb({"go": True})))
    assert scalar(conn, "SELECT pgflow._run_options()") is None


def test_no_options_is_null(conn):
    assert scalar(conn, "SELECT pgflow._run_options()") is None


def test_client_sends_only_the_options_given(conn):
    conn.execute("SELECT 1")  # inside the test's transaction (an idle connection would commit the op)
    run_sync(conn, start_options(priority=None, note="x"))
    assert scalar(conn, "SELECT pgflow._run_options()") == {"note": "x"}


def test_client_sends_nothing_without_options(conn):
    conn.execute("SELECT 1")
    run_sync(conn, start_options(priority=None))
    assert scalar(conn, "SELECT current_setting('pgflow.run_options', true)") is None
