"""When delayed work becomes due: the visibility time of queued tasks' messages in pgmq.

A run enqueued for later, a step waiting out its ``start_delay`` and a task waiting out a
retry's backoff are all stored as ``started`` / ``queued`` at once; only their pgmq message
says when a worker can take them. ``pgflow._task_due_times`` reads it in SQL (each queue of the
run once, only for tasks still queued); :func:`with_due_times` fills ``due_at`` on the run, its
step states and its tasks (``get_run`` asks ``pgflow._waiting_runs`` for the run's alone):

* a task's ``due_at``: its message's visibility time while that is in the future;
* a step's: the earliest of its tasks' when it has queued tasks, all of them hidden, and none
  started (it waits, nothing of it runs);
* a run's: the same over all its tasks (nothing of the run can run before then).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from pgflow.db import Operation, Query
from pgflow.models import Run, StepState, TaskStatus

TaskKey = tuple[UUID, str, int]  # run id, step slug, task index


def active_tasks(run_ids: list[UUID]) -> Operation[list[dict[str, Any]]]:
    """The queued and started tasks of the runs (run_id, step_slug, task_index, status, queue_name, message_id)."""
    rows: list[dict[str, Any]] = yield Query.all("client_active_tasks", run_ids=run_ids).and_commit()
    return rows


def due_times(run_id: UUID) -> Operation[dict[TaskKey, datetime]]:
    """When each queued task of the run whose message is still hidden becomes visible
    (``pgflow._task_due_times``: one statement, each of the run's queues read once)."""
    rows: list[dict[str, Any]] = yield due_times_query(run_id)
    return due_times_of(rows)


def due_times_query(run_id: UUID) -> Query:
    """The query of :func:`due_times`, for a :class:`pgflow.db.Snapshot` that reads it with the run."""
    return Query.all("client_task_due_times", run_id=run_id)


def due_times_of(rows: Iterable[dict[str, Any]]) -> dict[TaskKey, datetime]:
    return {(r["run_id"], r["step_slug"], r["task_index"]): r["due_at"] for r in rows}


def run_due_at(tasks: Iterable[dict[str, Any]], due: dict[TaskKey, datetime]) -> datetime | None:
    """The earliest due time when every active task is queued and hidden (nothing can run before)."""
    times = []
    for t in tasks:
        key = (t["run_id"], t["step_slug"], t["task_index"])
        if key not in due:
            return None  # started, or visible now
        times.append(due[key])
    return min(times) if times else None


def with_due_times(run: Run, tasks: list[dict[str, Any]], due: dict[TaskKey, datetime]) -> Run:
    """``run`` with ``due_at`` filled on itself, its step states and their tasks (see the module docs)."""
    if not due:
        return run
    states = []
    for state in run.step_states:
        mine = [t for t in tasks if t["step_slug"] == state.step_slug]
        states.append(_step_with_due(state, mine, due))
    return replace(run, due_at=run_due_at(tasks, due), step_states=tuple(states))


def _step_with_due(state: StepState, tasks: list[dict[str, Any]], due: dict[TaskKey, datetime]) -> StepState:
    step_tasks = tuple(replace(t, due_at=due.get((t.run_id, t.step_slug, t.task_index))) for t in state.tasks)
    return replace(state, due_at=run_due_at(tasks, due), tasks=step_tasks)
