"""pgflow.ops.runs stepped without a database: the queries each operation asks for, what it makes
of their results, and what it refuses before asking anything."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import UUID

import pytest

import pgflow
from pgflow.db import Snapshot, WaitForEvent, unlisten
from pgflow.errors import InvalidInput, RunFailed, RunNotFound, RunTimeout
from pgflow.events import parse_event, run_channel
from pgflow.models import Run
from pgflow.ops import runs as run_ops
from tests.unit.ops_steps import first, json_of, play, query

RUN_ID = UUID("3f2a9c1e-0b7d-4c55-9d0e-6a1b2c3d4e5f")
TS = "2030-01-01T09:00:00+00:00"


def run_row(status: str = "completed", run_id: UUID = RUN_ID, **extra: object) -> dict[str, object]:
    return {"run_id": run_id, "flow_slug": "orders", "status": status, "input": {"n": 1}, "output": None,
            "remaining_steps": 0, **extra}


def event(event_type: str, **fields: object) -> pgflow.Event:
    return parse_event({"event_type": event_type, "run_id": str(RUN_ID), "flow_slug": "orders", "ts": TS, **fields})


# --- start_flow ----------------------------------------------------------------------------------

def test_start_flow_is_one_query_that_commits_with_the_json_input() -> None:
    steps, run_id = play(run_ops.start_flow(pgflow.Flow("orders"), {"n": 1, "tags": ["a"]}), {"run_id": RUN_ID})
    [step] = steps
    params = query(step, "client_start_flow", "one", commits=True)
    assert params["flow_slug"] == "orders" and params["run_id"] is None
    assert json_of(params["input"]) == {"n": 1, "tags": ["a"]}
    assert run_id == RUN_ID


def test_start_flow_takes_a_slug_and_a_run_id_as_text() -> None:
    params = query(first(run_ops.start_flow("orders", None, str(RUN_ID))), "client_start_flow", commits=True)
    assert (params["flow_slug"], params["input"], params["run_id"]) == ("orders", "null", RUN_ID)


@pytest.mark.parametrize("value", [{"at": datetime(2030, 1, 1)}, {1, 2}, float("nan")])
def test_start_flow_refuses_input_that_is_not_json_before_any_query(value: object) -> None:
    with pytest.raises(InvalidInput, match="not JSON-serialisable"):
        first(run_ops.start_flow("orders", value))  # type: ignore[arg-type]


def test_start_flow_refuses_a_run_id_that_is_not_a_uuid() -> None:
    with pytest.raises(InvalidInput, match="is not a run id"):
        first(run_ops.start_flow("orders", {}, "run-1"))


def test_start_flow_refuses_what_is_not_a_flow() -> None:
    with pytest.raises(pgflow.FlowDefinitionError, match="expected a Flow, a Job or a flow slug"):
        first(run_ops.start_flow(42, {}))  # type: ignore[arg-type]


# --- start_flow_and_wait -------------------------------------------------------------------------

def wait_until_finished(op: object) -> tuple[str, UUID, WaitForEvent]:
    """Play the start of start_flow_and_wait up to its WaitForEvent: (channel, run id, wait)."""
    # listening before the start, in its transaction: the end cannot be missed; the database makes
    # the id (version 7) in the first statement and starts the run under it in the second
    assert query(next(op), "client_listen_new_run", "none") == {}  # type: ignore[call-overload]
    query(op.send(None), "client_start_new_run", "one", commits=True)  # type: ignore[attr-defined]
    made = UUID("0190a6f0-0000-7000-8000-00000000abcd")
    wait = op.send({"run_id": made, "status": "started"})  # type: ignore[attr-defined]
    channel = run_channel(made)
    assert isinstance(wait, WaitForEvent) and wait.channel == channel
    return channel, made, wait


def reads_the_run(step: object, run_id: UUID) -> None:
    assert isinstance(step, Snapshot)
    assert [(q.sql, q.params) for q in step.queries] == [
        ("client_select_run", {"run_id": run_id}),
        ("client_select_step_states", {"run_id": run_id}),
        ("client_select_step_tasks", {"run_id": run_id}),
        ("client_task_due_times", {"run_id": run_id}),  # in the same snapshot: no extra round trip
    ]


def test_start_flow_and_wait_listens_before_starting_and_returns_the_run_on_its_end() -> None:
    op = run_ops.start_flow_and_wait("orders", {"n": 1}, timeout=5)
    _, run_id, wait = wait_until_finished(op)
    assert wait.timeout == 5.0
    assert wait.until(event("run:completed", status="completed", output={"a": 1}, completed_at=TS))
    assert wait.until(event("run:failed", status="failed", error_message="boom", failed_at=TS,
                            failed_step_slug="a"))
    assert not wait.until(event("run:started", status="started", input={}, remaining_steps=1, started_at=TS))
    assert not wait.until(event("step:failed", step_slug="a", status="failed", error_message="boom", failed_at=TS))
    reads_the_run(op.send(None), run_id)
    step_row = {"step_slug": "a", "status": "completed", "output": 2}
    task_row = {"flow_slug": "orders", "run_id": run_id, "step_slug": "a", "task_index": 0, "status": "completed"}
    with pytest.raises(StopIteration) as done:
        op.send([run_row("completed", run_id, output={"a": 2}), [step_row], [task_row], []])
    run = done.value.value
    assert isinstance(run, Run) and (run.run_id, run.status, run.output) == (run_id, "completed", {"a": 2})
    assert [(s.step_slug, [t.task_index for t in s.tasks]) for s in run.step_states] == [("a", [0])]


def test_start_flow_and_wait_raises_run_failed_with_the_run() -> None:
    op = run_ops.start_flow_and_wait("orders", {})
    _, run_id, _ = wait_until_finished(op)
    op.send(None)
    with pytest.raises(RunFailed) as failed:
        op.send([run_row("failed", run_id), [], [], []])
    assert failed.value.run.run_id == run_id


def test_start_flow_and_wait_raises_run_timeout_when_no_end_came() -> None:
    op = run_ops.start_flow_and_wait("orders", {}, timeout=0.5)
    _, run_id, _ = wait_until_finished(op)
    op.send(None)  # the wait timed out
    with pytest.raises(RunTimeout) as timed_out:
        op.send([run_row("started", run_id), [], [], []])
    assert timed_out.value.run_id == run_id


def test_start_flow_and_wait_does_not_wait_for_a_run_that_ended_in_its_start() -> None:
    op = run_ops.start_flow_and_wait("orders", {})
    next(op)
    query(op.send(None), "client_start_new_run", commits=True)
    made = UUID("0190a6f0-0000-7000-8000-00000000abcd")
    assert op.send({"run_id": made, "status": "completed"}) == unlisten(run_channel(made))
    reads_the_run(op.send(None), made)


def test_start_flow_and_wait_refuses_a_timeout_that_is_not_seconds() -> None:
    with pytest.raises(InvalidInput, match="timeout must be a number of seconds"):
        first(run_ops.start_flow_and_wait("orders", {}, timeout="1m"))  # type: ignore[arg-type]


# --- enqueue -------------------------------------------------------------------------------------

def test_enqueue_with_a_delay_sends_seconds_for_the_database_clock() -> None:
    steps, run_id = play(run_ops.enqueue(pgflow.Job("send_email"), {"to": "a"}, timedelta(minutes=2)),
                         {"run_id": RUN_ID})
    params = query(steps[0], "client_start_flow_at", "one", commits=True)
    assert (params["flow_slug"], params["delay"], params["start_at"]) == ("send_email", 120.0, None)
    assert run_id == RUN_ID


def test_enqueue_at_an_aware_time() -> None:
    when = datetime(2030, 1, 1, 9, tzinfo=timezone(timedelta(hours=2)))
    params = query(first(run_ops.enqueue("send_email", {}, scheduled_at=when)), "client_start_flow_at", commits=True)
    assert (params["start_at"], params["delay"]) == (when, None)


def test_enqueue_in_and_enqueue_at_are_enqueue() -> None:
    when = datetime(2030, 1, 1, tzinfo=timezone.utc)
    assert first(run_ops.enqueue_in("j", {}, 5)) == first(run_ops.enqueue("j", {}, delay_seconds=5))
    assert first(run_ops.enqueue_at("j", {}, when)) == first(run_ops.enqueue("j", {}, scheduled_at=when))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"delay_seconds": 5, "scheduled_at": datetime(2030, 1, 1, tzinfo=timezone.utc)}, "not both"),
    ({"scheduled_at": datetime(2030, 1, 1)}, "has no time zone"),
    ({"scheduled_at": "2030-01-01T00:00:00Z"}, "must be a datetime with a time zone"),
    ({"delay_seconds": "5"}, "delay_seconds must be a number of seconds"),
    ({"delay_seconds": True}, "delay_seconds must be a number of seconds"),
])
def test_enqueue_refuses_unclear_times_before_any_query(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        first(run_ops.enqueue("send_email", {}, **kwargs))  # type: ignore[arg-type]


# --- reading runs --------------------------------------------------------------------------------

def test_get_run_reads_one_row() -> None:
    steps, run = play(run_ops.get_run(str(RUN_ID)), run_row("completed"))
    assert query(steps[0], "client_select_run_with_due", "one", commits=True) == {"run_id": RUN_ID}
    assert (run.run_id, run.status, run.step_states, run.due_at) == (RUN_ID, "completed", (), None)


def test_get_run_of_a_run_waiting_for_later_says_when_it_is_due_from_the_same_row() -> None:
    due = datetime(2030, 1, 1, 9, tzinfo=timezone.utc)
    steps, run = play(run_ops.get_run(RUN_ID), run_row("started", due_at=due))
    assert len(steps) == 1 and run.due_at == due  # pgflow._waiting_runs, in the one statement


def test_get_run_with_states_fills_due_times_of_hidden_tasks_steps_and_the_run() -> None:
    due = datetime(2030, 1, 1, 9, tzinfo=timezone.utc)
    op = run_ops.get_run_with_states(RUN_ID)
    reads_the_run(next(op), RUN_ID)
    states = [{"step_slug": "later", "status": "started"}]
    tasks = [{"flow_slug": "orders", "run_id": RUN_ID, "step_slug": "later", "task_index": 0, "status": "queued"}]
    with pytest.raises(StopIteration) as done:
        op.send([run_row("started"), states, tasks,
                 [{"run_id": RUN_ID, "step_slug": "later", "task_index": 0, "due_at": due}]])
    run = done.value.value
    assert (run.due_at, run.step("later").due_at, run.step("later").tasks[0].due_at) == (due, due, due)


def test_get_run_raises_run_not_found_on_no_row() -> None:
    with pytest.raises(RunNotFound, match=str(RUN_ID)):
        play(run_ops.get_run(RUN_ID), None)


def test_get_run_with_states_reads_one_snapshot_and_orders_tasks_under_their_steps() -> None:
    op = run_ops.get_run_with_states(RUN_ID)
    reads_the_run(next(op), RUN_ID)
    states = [{"step_slug": "fetch", "status": "completed"}, {"step_slug": "each", "status": "started"}]
    tasks = [{"flow_slug": "orders", "run_id": RUN_ID, "step_slug": "each", "task_index": i, "status": "queued"}
             for i in (0, 1)] + [{"flow_slug": "orders", "run_id": RUN_ID, "step_slug": "fetch", "task_index": 0,
                                  "status": "completed"}]
    with pytest.raises(StopIteration) as done:
        op.send([run_row("started"), states, tasks, []])
    run = done.value.value
    assert [(s.step_slug, [t.task_index for t in s.tasks]) for s in run.step_states] == [("fetch", [0]),
                                                                                          ("each", [0, 1])]
    assert run.step("each").status == "started"


def test_get_run_with_states_raises_run_not_found_on_no_row() -> None:
    with pytest.raises(RunNotFound):
        play(run_ops.get_run_with_states(RUN_ID), [None, [], [], []])


def test_list_runs_filters_by_flow_and_status() -> None:
    steps, runs = play(run_ops.list_runs(pgflow.Flow("orders"), "failed", 10), [run_row("failed")])
    assert query(steps[0], "client_select_runs", "all", commits=True) == {
        "flow_slug": "orders", "status": "failed", "since": None, "until": None, "input": None, "limit": 10}
    assert [r.status for r in runs] == ["failed"]
    assert query(first(run_ops.list_runs()), "client_select_runs", commits=True)["flow_slug"] is None


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"status": "done"}, "unknown run status 'done'"),
    ({"limit": 0}, "limit must be a whole number from 1"),
    ({"limit": True}, "limit must be a whole number from 1"),
    ({"limit": "10"}, "limit must be a whole number from 1"),
    ({"limit": 2**63}, "limit must be a whole number from 1 to 9223372036854775807"),
])
def test_list_runs_refuses_bad_filters(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        first(run_ops.list_runs(**kwargs))  # type: ignore[arg-type]


# --- prune ---------------------------------------------------------------------------------------

def test_prune_counts_per_kind_sorted() -> None:
    steps, counts = play(run_ops.prune(timedelta(days=7), [pgflow.Flow("a"), "b"]), {"workers": 1, "runs": 3})
    assert query(steps[0], "client_prune_data_older_than", "scalar", commits=True) == {
        "older_than": timedelta(days=7), "flows": ["a", "b"], "max_runs": 10_000}
    assert list(counts.items()) == [("runs", 3), ("workers", 1)]


def test_prune_repeats_bounded_calls_while_one_deletes_a_full_batch() -> None:
    full = {"runs": 2, "step_tasks": 5, "workers": 0}
    steps, counts = play(run_ops.prune(timedelta(days=1), batch_size=2), full, {"runs": 1, "step_tasks": 2},
                         {"runs": 0, "step_tasks": 0})
    assert [query(step, "client_prune_data_older_than", commits=True)["max_runs"] for step in steps] == [2, 2, 2]
    assert counts == {"runs": 3, "step_tasks": 7, "workers": 0}
    steps, _ = play(run_ops.prune(timedelta(days=1), batch_size=None), full)
    assert query(steps[0], "client_prune_data_older_than", commits=True)["max_runs"] is None


def test_prune_takes_one_slug_as_one_flow_and_no_counts_as_none() -> None:
    steps, counts = play(run_ops.prune(timedelta(0), "orders"), None)
    assert query(steps[0], "client_prune_data_older_than", commits=True)["flows"] == ["orders"]
    assert counts == {}


@pytest.mark.parametrize("older_than", [timedelta(seconds=-1), 3600, "7d"])
def test_prune_refuses_what_is_not_a_positive_timedelta(older_than: object) -> None:
    with pytest.raises(InvalidInput, match="older_than must be a timedelta"):
        first(run_ops.prune(older_than))  # type: ignore[arg-type]
