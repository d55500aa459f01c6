"""pgflow._act_on_runs: one batch of a bulk cancel, retry or resume; a run that cannot be acted
on is reported and the others go on."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from tests.sql.helpers import (
    complete_task, define_flow, fail_task, read_and_start, register_worker, rows, run_row, scalar, start_flow,
)

_ACT = "SELECT run_id, done, new_run_id, message FROM pgflow._act_on_runs(%s, %s, %s, %s)"


def _act(conn, action, run_ids, reason=None, force=False):
    return rows(conn, _ACT, (action, run_ids, reason, force))


def _failed(conn, flow="f"):
    run_id = start_flow(conn, flow, {"n": 1})
    read_and_start(conn, flow, register_worker(conn, flow))
    fail_task(conn, run_id, "a", 0, "boom")
    return run_id


def test_cancel_reports_each_run(conn):
    define_flow(conn, "f", [("a", [])], max_attempts=1)
    going = start_flow(conn, "f", {"n": 1})
    over = _failed(conn)

    found = _act(conn, "cancel", [going, over], reason="bulk")

    assert [(r["run_id"], r["done"], r["message"]) for r in found] == [
        (going, True, None), (over, False, "already over (failed)")]
    assert run_row(conn, going)["cancel_reason"] == "bulk"


def test_retry_starts_one_new_run_per_failed_run_and_reports_the_rest(conn):
    define_flow(conn, "f", [("a", [])], max_attempts=1)
    first, second = _failed(conn), _failed(conn)
    going = start_flow(conn, "f", {"n": 2})
    unknown = uuid.uuid4()

    found = _act(conn, "retry", [first, going, unknown, second])

    assert [r["done"] for r in found] == [True, False, False, True]
    assert "nothing to retry" in found[1]["message"] and "not found" in found[2]["message"]
    for original, result in ((first, found[0]), (second, found[3])):
        new = run_row(conn, result["new_run_id"])
        assert (new["retry_of"], new["retry_kind"], new["status"]) == (original, "retry", "started")
    assert scalar(conn, "SELECT count(*) FROM pgflow.runs WHERE retry_of = %s", (going,)) == 0


def test_resume_records_its_kind_and_reuses_completed_steps(conn):
    define_flow(conn, "r", [("a", []), ("b", ["a"])], max_attempts=1)
    original = start_flow(conn, "r", {"n": 1})
    worker = register_worker(conn, "r")
    read_and_start(conn, "r", worker)
    complete_task(conn, original, "a", 0, 5)
    read_and_start(conn, "r", worker)
    fail_task(conn, original, "b", 0, "boom")

    [found] = _act(conn, "resume", [original])

    new = run_row(conn, found["new_run_id"])
    assert (found["done"], new["retry_kind"], new["retry_of"]) == (True, "resume", original)
    assert scalar(conn, "SELECT status FROM pgflow.step_states WHERE run_id = %s AND step_slug = 'a'",
                  (new["run_id"],)) == "completed"


def test_an_unknown_action_is_refused(conn):
    with pytest.raises(psycopg.Error) as raised:
        _act(conn, "delete", [])
    assert raised.value.sqlstate == "PF003"


def test_an_empty_batch_does_nothing(conn):
    assert _act(conn, "retry", []) == []
