"""pgflow.signal: a signal step waits without a queue message and completes with the payload."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from tests.sql.helpers import (complete_task, queue_messages, read_and_start, register_worker, run_row, scalar,
                               start_flow, step_state, task)
from tests.sql.waits.helpers import define_waiting_flow, signal, wait_row

APPROVAL = [("create", []), ("approval", ["create"]), ("ship", ["approval"])]


def _approval_flow(conn, **approval):
    define_waiting_flow(conn, "order", APPROVAL, {"approval": {"wait_kind": "signal", **approval}})


def _waiting_run(conn, **approval):
    _approval_flow(conn, **approval)
    run_id = start_flow(conn, "order", {"id": 7})
    worker = register_worker(conn, "order")
    read_and_start(conn, "order", worker)
    complete_task(conn, run_id, "create", 0, {"order": 7})
    return run_id, worker


def test_signal_step_waits_without_a_message(conn):
    run_id, _ = _waiting_run(conn)
    assert step_state(conn, run_id, "approval")["status"] == "started"
    waiting = task(conn, run_id, "approval")
    assert (waiting["status"], waiting["message_id"]) == ("queued", None)
    assert [m["message"]["step_slug"] for m in queue_messages(conn, "order")] == []
    assert wait_row(conn, run_id, "approval")["due_at"] is None  # no timeout


def test_signal_completes_the_step_with_its_payload(conn):
    run_id, worker = _waiting_run(conn)
    result = signal(conn, run_id, "approval", {"approved_by": "ann"})
    assert result["outcome"] == "delivered"
    state = step_state(conn, run_id, "approval")
    assert (state["status"], state["output"]) == ("completed", {"approved_by": "ann"})
    assert wait_row(conn, run_id, "approval") is None
    # the dependent step receives it like any output
    claimed = read_and_start(conn, "order", worker)
    assert [(t["step_slug"], t["input"]) for t in claimed] == [("ship", {"approval": {"approved_by": "ann"}})]


def test_early_signal_is_kept_and_delivered_when_the_step_starts(conn):
    _approval_flow(conn)
    run_id = start_flow(conn, "order", {"id": 7})
    assert signal(conn, run_id, "approval", "yes")["outcome"] == "kept"
    assert step_state(conn, run_id, "approval")["status"] == "created"
    worker = register_worker(conn, "order")
    read_and_start(conn, "order", worker)
    complete_task(conn, run_id, "create", 0, {})
    assert step_state(conn, run_id, "approval")["output"] == "yes"
    assert step_state(conn, run_id, "ship")["status"] == "started"


def test_early_signal_rejected_by_option(conn):
    _approval_flow(conn, early_signals="reject")
    run_id = start_flow(conn, "order", {})
    with pytest.raises(psycopg.Error) as raised:
        signal(conn, run_id, "approval", "yes")
    assert raised.value.sqlstate == "PF005"
    assert "does not wait yet" in str(raised.value)


def test_duplicate_signal_first_wins(conn):
    run_id, _ = _waiting_run(conn)
    first = signal(conn, run_id, "approval", "first")
    second = signal(conn, run_id, "approval", "second")
    assert second["outcome"] == "duplicate"
    assert second["received_at"] == first["received_at"]
    assert step_state(conn, run_id, "approval")["output"] == "first"


@pytest.mark.parametrize(("step", "words"), [
    ("nope", "does not exist"), ("create", "is not a signal step"),
])
def test_signal_for_a_step_that_is_not_a_signal_step(conn, step, words):
    run_id, _ = _waiting_run(conn)
    with pytest.raises(psycopg.Error) as raised:
        signal(conn, run_id, step, 1)
    assert raised.value.sqlstate == "PF003"
    assert words in str(raised.value) and "'approval'" in raised.value.diag.message_hint


def test_signal_for_an_unknown_run(conn):
    _approval_flow(conn)
    with pytest.raises(psycopg.Error) as raised:
        signal(conn, uuid.uuid4(), "approval", 1)
    assert raised.value.sqlstate == "PF002"


def test_signal_for_a_run_that_ended(conn):
    run_id, _ = _waiting_run(conn)
    conn.execute("SELECT pgflow.cancel_run(%s)", (run_id,))
    with pytest.raises(psycopg.Error) as raised:
        signal(conn, run_id, "approval", 1)
    assert raised.value.sqlstate == "PF005" and "failed" in str(raised.value)


def test_null_payload_is_refused(conn):
    run_id, _ = _waiting_run(conn)
    with pytest.raises(psycopg.Error) as raised:
        conn.execute("SELECT pgflow.signal(%s, 'approval', NULL)", (run_id,))
    assert raised.value.sqlstate == "PF003"


def test_signal_by_key(conn):
    _approval_flow(conn)
    conn.execute("SELECT set_config('pgflow.run_options', '{\"signal_key\": \"order-7\"}', true)")
    run_id = start_flow(conn, "order", {})
    assert run_row(conn, run_id)["signal_key"] == "order-7"
    result = scalar(conn, "SELECT pgflow.signal_by_key('order', 'order-7', 'approval', '\"ok\"')")
    assert (result["run_id"], result["outcome"]) == (str(run_id), "kept")


def test_signal_by_unknown_key(conn):
    _approval_flow(conn)
    with pytest.raises(psycopg.Error) as raised:
        scalar(conn, "SELECT pgflow.signal_by_key('order', 'nobody', 'approval', '1')")
    assert raised.value.sqlstate == "PF002"


def test_root_signal_step_waits_from_the_start(conn):
    define_waiting_flow(conn, "gate", [("go", []), ("after", ["go"])], {"go": {"wait_kind": "signal"}})
    run_id = start_flow(conn, "gate", {})
    assert step_state(conn, run_id, "go")["status"] == "started"
    assert queue_messages(conn, "gate") == []
    signal(conn, run_id, "go", 1)
    assert [m["message"]["step_slug"] for m in queue_messages(conn, "gate")] == ["after"]


def test_signal_by_a_key_two_running_runs_share_is_refused(conn):
    _approval_flow(conn)
    for _ in range(2):
        conn.execute("SELECT set_config('pgflow.run_options', '{\"signal_key\": \"dup\"}', true)")
        start_flow(conn, "order", {})
    with pytest.raises(psycopg.Error) as raised:
        scalar(conn, "SELECT pgflow.signal_by_key('order', 'dup', 'approval', '1')")
    assert raised.value.sqlstate == "PF005" and "2 runs of flow 'order' still going" in str(raised.value)


def test_signal_by_key_of_a_finished_run_goes_to_the_latest(conn):
    _approval_flow(conn)
    conn.execute("SELECT set_config('pgflow.run_options', '{\"signal_key\": \"old\"}', true)")
    run_id = start_flow(conn, "order", {})
    signal(conn, run_id, "approval", "first")
    conn.execute("SELECT pgflow.cancel_run(%s)", (run_id,))
    result = scalar(conn, "SELECT pgflow.signal_by_key('order', 'old', 'approval', '2')")
    assert (result["run_id"], result["outcome"]) == (str(run_id), "duplicate")
