"""A run started from SQL keeps its origin's trace (runs.trace_context): a retried or resumed run
takes the original's, a subflow's child run its parent's; other run options a caller set still apply."""

from __future__ import annotations

import pytest

from tests.sql.helpers import (define_flow, fail_task, read_and_start, register_worker, rows, run_row, scalar,
                               start_flow)
from tests.sql.resume_run.helpers import resume_run
from tests.sql.retry_run.helpers import retry_run
from tests.sql.waits.helpers import define_waiting_flow

TRACE = {"traceparent": "00-8e1bc507a1b2c3d4e5f60718293a4b5c-00f067aa0ba902b7-01"}
RERUNS = {"retry": retry_run, "resume": resume_run}


def _options(conn, options):
    conn.execute("SELECT set_config('pgflow.run_options', %s::jsonb::text, true)", (options,))


def _failed_run(conn, options):
    define_flow(conn, "f", [("a", []), ("b", ["a"])], max_attempts=1)
    if options is not None:
        _options(conn, options)
    run_id = start_flow(conn, "f", {"order": 42})
    read_and_start(conn, "f", register_worker(conn, "f"))
    fail_task(conn, run_id, "a", 0, "boom")
    return run_id


@pytest.mark.parametrize("rerun", sorted(RERUNS))
def test_rerun_continues_the_originals_trace(conn, rerun):
    original = _failed_run(conn, '{"trace_context": %s}' % str(TRACE).replace("'", '"'))
    assert run_row(conn, original)["trace_context"] == TRACE
    new = RERUNS[rerun](conn, original)
    assert run_row(conn, new)["trace_context"] == TRACE
    assert scalar(conn, "SELECT pgflow._run_options()") is None  # served that run only


@pytest.mark.parametrize("rerun", sorted(RERUNS))
def test_rerun_keeps_the_callers_other_options(conn, rerun):
    original = _failed_run(conn, '{"trace_context": %s}' % str(TRACE).replace("'", '"'))
    _options(conn, '{"priority": 7}')
    new = run_row(conn, RERUNS[rerun](conn, original))
    assert (new["priority"], new["trace_context"]) == (7, TRACE)


@pytest.mark.parametrize("rerun", sorted(RERUNS))
def test_rerun_of_an_untraced_run_is_untraced(conn, rerun):
    original = _failed_run(conn, None)
    new = RERUNS[rerun](conn, original)
    assert scalar(conn, "SELECT trace_context IS NULL FROM pgflow.runs WHERE run_id = %s", (new,)) is True


def test_subflow_child_continues_its_parents_trace(conn):
    define_flow(conn, "child", [("work", [])])
    define_waiting_flow(conn, "parent", [("sub", [])], {"sub": {"wait_kind": "subflow", "child_flow_slug": "child"}})
    _options(conn, '{"trace_context": %s}' % str(TRACE).replace("'", '"'))
    parent = start_flow(conn, "parent", {"n": 1})
    [child] = rows(conn, "SELECT trace_context, parent_run_id FROM pgflow.runs WHERE parent_run_id = %s", (parent,))
    assert child["trace_context"] == TRACE


def test_subflow_child_of_an_untraced_parent_is_untraced(conn):
    define_flow(conn, "child", [("work", [])])
    define_waiting_flow(conn, "parent", [("sub", [])], {"sub": {"wait_kind": "subflow", "child_flow_slug": "child"}})
    parent = start_flow(conn, "parent", {"n": 1})
    assert scalar(conn, "SELECT trace_context IS NULL FROM pgflow.runs WHERE parent_run_id = %s", (parent,)) is True
