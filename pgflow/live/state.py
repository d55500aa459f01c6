"""Applying events to a :class:`~pgflow.models.Run`: idempotent, and status only moves forward.

The rules (the JavaScript client ``pgflow/web/static/pgflow-live.js`` follows the same ones):

* run status:  started < completed < failed
* step status: created < started < completed < failed = skipped
* task: ordered by (attempt, phase) with phase queued < started < queued-for-retry <
  skipped = cancelled < completed = failed, so a retry's ``task:started`` (attempt 2) outranks
  the failure of attempt 1.
* a task's end without an event of its own: a task still queued or started in a skipped step is
  ``skipped``, in a failed run ``cancelled`` (the engine ends them with the step or the run and
  announces only ``step:skipped`` / ``run:failed``). Derived after every event, like the counters.

An event whose status outranks the current one moves the status and sets the event's fields.
An event of the same or a lower rank changes no status; it only fills fields that are still
empty (e.g. ``started_at`` from a ``step:started`` that arrived after ``step:completed``). A
task event of an older attempt fills only an empty ``error_message``. So applying an event twice,
or events in any order, ends in the same state.

Counters are derived from the states instead of counted per event, which keeps them idempotent:
a run's ``remaining_steps`` is the number of steps not completed or skipped, a started step's
(or a step that failed after starting) ``remaining_tasks`` is ``initial_tasks`` minus its
completed tasks.

Fields that no event carries (a task's ``message_id`` and ``queued_at`` when the task appeared
after the snapshot, ``remaining_deps`` of steps that never started) keep their snapshot value;
:class:`~pgflow.live.LiveRun` reloads the run once when it finishes so they end exact too.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from pgflow.events import (
    Event,
    RunCancelledEvent,
    RunCompletedEvent,
    RunEvent,
    RunFailedEvent,
    StepCompletedEvent,
    StepEvent,
    StepFailedEvent,
    StepSkippedEvent,
    TaskCompletedEvent,
    TaskEvent,
    TaskFailedEvent,
    TaskStartedEvent,
    _ts,
)
from pgflow.models import Run, RunStatus, StepState, StepStatus, StepTask, TaskStatus

M = TypeVar("M", Run, StepState, StepTask)

RUN_RANK = {RunStatus.STARTED: 0, RunStatus.COMPLETED: 1, RunStatus.FAILED: 2}
STEP_RANK = {StepStatus.CREATED: 0, StepStatus.STARTED: 1, StepStatus.COMPLETED: 2, StepStatus.FAILED: 3,
             StepStatus.SKIPPED: 3}
_STEP_STATUS = {StepCompletedEvent: StepStatus.COMPLETED, StepFailedEvent: StepStatus.FAILED,
                StepSkippedEvent: StepStatus.SKIPPED}


def apply_event(run: Run, event: Any) -> Run:
    """``run`` with ``event`` applied; the same object when the event changes nothing.

    Events of another run, ``RunFinished`` and ``Gap`` markers change nothing.
    """
    if not isinstance(event, Event) or event.run_id != run.run_id:
        return run
    if isinstance(event, RunEvent):
        updated = _apply_run(run, event)
    elif isinstance(event, StepEvent):
        updated = _with_step(run, event.step_slug, lambda s: _apply_step(s, event))
    elif isinstance(event, TaskEvent):
        updated = _with_step(run, event.step_slug, lambda s: _apply_task(s, event, run))
    else:
        return run
    if updated is run:
        return run
    derived = derive_counters(derive_task_ends(updated))
    return run if derived == run else derived


def _merge(current: Any, forward: bool, fields: dict[str, Any], status: str | None = None) -> dict[str, Any]:
    """The changes to make: all fields (and the status) when moving forward, else only the
    fields that are still empty."""
    if forward:
        changes = {k: v for k, v in fields.items() if getattr(current, k) != v}
        if status is not None and current.status != status:
            changes["status"] = status
        return changes
    return {k: v for k, v in fields.items() if v is not None and getattr(current, k) is None}


def _present(event: Event, *names: str) -> dict[str, Any]:
    """The payload's values for ``names`` (timestamps parsed), skipping the missing ones."""
    found = {}
    for name in names:
        if name in event.raw:
            value = getattr(event, name, _UNDECLARED)  # parsed already when the event's class declares it
            if value is _UNDECLARED:
                value = _ts(event.raw[name]) if name.endswith("_at") else event.raw[name]
            found[name] = value
    return found


_UNDECLARED = object()


def copy_with(obj: M, **changes: Any) -> M:
    """``dataclasses.replace`` for the frozen models, a few times faster: it copies the
    attributes instead of running ``__init__`` again, which gives the same object because they
    have no ``__post_init__`` and no field outside ``__init__`` (tests/live/test_index.py checks).
    Applying a map's task events makes one or two per event."""
    if not changes.keys() <= obj.__dict__.keys():
        raise TypeError(f"{type(obj).__name__} has no field {', '.join(sorted(changes.keys() - obj.__dict__.keys()))}")
    new = object.__new__(type(obj))
    new.__dict__.update(obj.__dict__, **changes)
    return new


# ------------------------------------------------------------------------------------ run

def _apply_run(run: Run, event: RunEvent) -> Run:
    if isinstance(event, RunCompletedEvent):
        status, fields = RunStatus.COMPLETED, _present(event, "output", "completed_at")
        fields["remaining_steps"] = 0
    elif isinstance(event, RunFailedEvent):
        status, fields = RunStatus.FAILED, _present(event, "failed_at")
    elif isinstance(event, RunCancelledEvent):  # a cancelled run is a failed run that says so
        status, fields = RunStatus.FAILED, {**_present(event, "cancelled_at"), "cancel_reason": event.reason}
    else:
        status, fields = RunStatus.STARTED, _present(event, "input", "started_at", "remaining_steps")
    forward = RUN_RANK[status] > RUN_RANK.get(run.status, 0)
    changes = _merge(run, forward, fields, status)
    return replace(run, **changes) if changes else run


# ----------------------------------------------------------------------------------- step

def _with_step(run: Run, step_slug: str, change: Any) -> Run:
    states = list(run.step_states)
    for i, state in enumerate(states):
        if state.step_slug == step_slug:
            updated = change(state)
            if updated is state:
                return run
            states[i] = updated
            return replace(run, step_states=tuple(states))
    states.append(change(StepState(step_slug=step_slug, status=StepStatus.CREATED)))
    return replace(run, step_states=tuple(states))


def _apply_step(step: StepState, event: StepEvent) -> StepState:
    status = _STEP_STATUS.get(type(event), StepStatus.STARTED)
    if status == StepStatus.STARTED:
        fields = _present(event, "started_at", "remaining_tasks", "remaining_deps", "initial_tasks")
    elif status == StepStatus.COMPLETED:
        fields = _present(event, "output", "started_at", "completed_at")
        fields["remaining_tasks"] = 0
    elif status == StepStatus.FAILED:
        fields = _present(event, "error_message", "failed_at")
    else:
        fields = _present(event, "skip_reason", "skipped_at", "error_message")
        fields["remaining_tasks"] = None
    forward = STEP_RANK[status] > STEP_RANK.get(step.status, 0)
    if not forward:  # counters describe the current status, not the event's
        fields.pop("remaining_tasks", None)
        fields.pop("remaining_deps", None)
    elif status != StepStatus.SKIPPED:
        fields["remaining_deps"] = 0  # a step leaves "created" only once all its deps are done
    changes = _merge(step, forward, fields, status)
    return replace(step, **changes) if changes else step


# ----------------------------------------------------------------------------------- task

_PHASE = {TaskStatus.STARTED: 1, TaskStatus.SKIPPED: 2.5, TaskStatus.CANCELLED: 2.5, TaskStatus.COMPLETED: 3,
          TaskStatus.FAILED: 3}


def _task_rank(task: StepTask) -> tuple[int, float]:
    if task.status == TaskStatus.QUEUED:  # queued again for a retry: after the failed attempt
        return task.attempts_count, 0 if task.attempts_count == 0 else 2
    return task.attempts_count, _PHASE.get(task.status, 0)


def _apply_task(step: StepState, event: TaskEvent, run: Run) -> StepState:
    tasks = list(step.tasks)
    index = next((i for i, t in enumerate(tasks) if t.task_index == event.task_index), None)
    task = apply_task_event(tasks[index] if index is not None else None, event, run, step.step_slug)
    if task is None:
        return step
    if index is None:
        tasks.append(task)
        tasks.sort(key=lambda t: t.task_index)
    else:
        tasks[index] = task
    return replace(step, tasks=tuple(tasks))


def apply_task_event(task: StepTask | None, event: TaskEvent, run: Run, step_slug: str) -> StepTask | None:
    """The task (``None``: not seen yet) with ``event`` applied; ``None`` when nothing changes."""
    known = task is not None
    if task is None:
        task = StepTask(flow_slug=event.flow_slug or run.flow_slug, run_id=run.run_id,
                        step_slug=step_slug, task_index=event.task_index, status=TaskStatus.QUEUED)
    attempt = event.attempt if event.attempt is not None else task.attempts_count
    fields: dict[str, Any] = {"attempts_count": attempt}
    if isinstance(event, TaskStartedEvent):
        status, phase = TaskStatus.STARTED, 1
        fields.update(_present(event, "started_at"))
        if event.worker_id is not None:
            fields["last_worker_id"] = event.worker_id
    elif isinstance(event, TaskCompletedEvent):
        status, phase = TaskStatus.COMPLETED, 3
        fields.update(_present(event, "output", "completed_at"))
    elif isinstance(event, TaskFailedEvent) and event.will_retry:
        status, phase = TaskStatus.QUEUED, 2
        fields.update(_present(event, "error_message"))
    else:
        status, phase = TaskStatus.FAILED, 3
        fields.update(_present(event, "error_message", "failed_at"))
    forward = (attempt, phase) > _task_rank(task)
    if forward:
        if attempt > task.attempts_count:  # a new attempt: what the old one set no longer holds
            fields = {"started_at": None, "last_worker_id": None, **fields}
        changes = _merge(task, True, fields, status)
        if status == TaskStatus.QUEUED and task.started_at is not None:
            changes["started_at"] = None  # back in the queue until the next attempt starts
    elif attempt == task.attempts_count:
        changes = _merge(task, False, fields)
    else:
        changes = _merge(task, False, {"error_message": fields.get("error_message")})
    if not changes and known:
        return None
    return copy_with(task, **changes) if changes else task


def task_end(step: StepState, run: Run) -> TaskStatus | None:
    """What a task still queued or started becomes: ``skipped`` in a skipped step, ``cancelled``
    in a failed run (the engine ends them with the step or the run), else ``None``."""
    return TaskStatus.SKIPPED if step.status == StepStatus.SKIPPED else \
        TaskStatus.CANCELLED if run.status == RunStatus.FAILED else None


def remaining_tasks(step: StepState, completed: int) -> int | None:
    """A step's ``remaining_tasks`` given how many of its tasks completed."""
    if step.status in (StepStatus.STARTED, StepStatus.FAILED) and step.started_at is not None \
            and step.initial_tasks is not None:
        return max(step.initial_tasks - completed, 0)
    return step.remaining_tasks


def remaining_steps(run: Run, steps: Any) -> int:
    """A run's ``remaining_steps`` given its step states (any iterable of them)."""
    if run.status == RunStatus.COMPLETED:
        return 0
    counted = [s.status not in (StepStatus.COMPLETED, StepStatus.SKIPPED) for s in steps]
    return sum(counted) if counted else run.remaining_steps


# ------------------------------------------------------------------------------ task ends

def derive_task_ends(run: Run) -> Run:
    """Tasks still queued or started become ``skipped`` in a skipped step, ``cancelled`` in a
    failed run: what the engine did with them when the step or the run ended."""
    states = []
    for step in run.step_states:
        end = task_end(step, run)
        if end is None or all(t.status not in (TaskStatus.QUEUED, TaskStatus.STARTED) for t in step.tasks):
            states.append(step)
            continue
        states.append(replace(step, tasks=tuple(
            replace(t, status=end) if t.status in (TaskStatus.QUEUED, TaskStatus.STARTED) else t
            for t in step.tasks)))
    if all(a is b for a, b in zip(states, run.step_states)):
        return run
    return replace(run, step_states=tuple(states))


# ------------------------------------------------------------------------------- counters

def derive_counters(run: Run) -> Run:
    """``remaining_steps`` and each step's ``remaining_tasks`` recomputed from the states."""
    states = []
    for step in run.step_states:
        remaining = remaining_tasks(step, sum(1 for t in step.tasks if t.status == TaskStatus.COMPLETED))
        states.append(step if remaining == step.remaining_tasks else replace(step, remaining_tasks=remaining))
    left = remaining_steps(run, states)
    if left == run.remaining_steps and all(a is b for a, b in zip(states, run.step_states)):
        return run
    return replace(run, remaining_steps=left, step_states=tuple(states))


# ---------------------------------------------------------------------------------- JSON

def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def run_to_dict(run: Run) -> dict[str, Any]:
    """A run (with step states and tasks) as JSON-ready data: the shape the SSE snapshot sends."""
    return jsonable(asdict(run))
