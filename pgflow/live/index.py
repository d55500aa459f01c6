"""``RunState``: a run's live state indexed by step and task, so applying an event costs O(1).

:func:`pgflow.live.state.apply_event` is a pure function on a frozen :class:`~pgflow.models.Run`:
every task event copies its step's task tuple, finds the task by scanning, and recomputes the
derived fields over every task. Fine for a few tasks; for a 10,000-item map it is quadratic.
``RunState`` applies the same rules (it calls the same per-run, per-step and per-task functions)
to dictionaries keyed by step slug and task index, keeps each step's completed-task count, and
builds a ``Run`` only when asked (:meth:`to_run`, cached until the next change; only the steps
that changed are rebuilt).

    state = RunState(snapshot)
    changed = state.apply(event)      # True when the event changed something
    run = state.to_run()              # equal to folding apply_event over the same events

It also knows what the events left unknown (:meth:`unknown`: fields that came truncated, tasks
first seen in an event, ends it derived), so a reader can read back only those
(:meth:`merge`) instead of the whole run.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pgflow.events import Event, RunEvent, StepEvent, StepSkippedEvent, TaskEvent
from pgflow.live.state import (
    _apply_run,
    _apply_step,
    apply_task_event,
    copy_with,
    remaining_steps,
    remaining_tasks,
    task_end,
)
from pgflow.models import Run, RunStatus, StepState, StepStatus, StepTask, TaskStatus

_OPEN = (TaskStatus.QUEUED, TaskStatus.STARTED)


class RunState:
    """A run's state, indexed; see the module docstring. Not thread-safe: one event loop."""

    def __init__(self, run: Run) -> None:
        self.run_id = run.run_id
        #: bumped on every change
        self.version = 0
        self._head = replace(run, step_states=())
        self._steps: dict[str, StepState] = {}
        self._tasks: dict[str, dict[int, StepTask]] = {}
        self._counts: dict[str, dict[str, int]] = {}  # per step: tasks by status
        self._unsorted: set[str] = set()
        self._built: dict[str, StepState] = {}  # steps with their tasks, until they change
        self._run: Run | None = run
        #: steps' and run's fields some event left out (truncated) or that no event carries
        self._head_unknown = False
        self._tasks_unknown: dict[str, set[int]] = {}  # per step: tasks no reading has shown as they are
        for step in run.step_states:
            self._steps[step.step_slug] = replace(step, tasks=())
            tasks = {t.task_index: t for t in step.tasks}
            self._tasks[step.step_slug] = tasks
            counts = self._counts[step.step_slug] = {}
            for task in step.tasks:
                counts[task.status] = counts.get(task.status, 0) + 1
            self._built[step.step_slug] = step
            if list(tasks) != sorted(tasks):
                self._unsorted.add(step.step_slug)
        self._derive_all()
        self._tasks_unknown.clear()  # a reading is exact; what deriving changed is what the reader saw too

    # ------------------------------------------------------------------ reading
    @property
    def status(self) -> str:
        return self._head.status

    @property
    def finished(self) -> bool:
        return self._head.finished

    def task_count(self) -> int:
        return sum(len(t) for t in self._tasks.values())

    def step_slugs(self) -> list[str]:
        return list(self._steps)

    def step_state(self, step_slug: str) -> StepState:
        """One step's state without its tasks (``KeyError`` for an unknown step)."""
        return self._steps[step_slug]

    def task_counts(self, step_slug: str) -> dict[str, int]:
        """How many of a step's tasks are in each status (kept as events arrive: O(1))."""
        return {status: n for status, n in self._counts.get(step_slug, {}).items() if n}

    def step_progress(self, step_slug: str) -> dict[str, Any]:
        """One step's status and task counts: what a progress view needs, without the tasks."""
        step = self._steps[step_slug]
        return {"run_id": str(self.run_id), "step_slug": step_slug, "status": step.status,
                "initial_tasks": step.initial_tasks, "remaining_tasks": step.remaining_tasks,
                "tasks": self.task_counts(step_slug)}

    def unknown(self) -> tuple[bool, dict[str, list[int]]]:
        """What only a reading can make exact: whether the run's or its steps' fields are
        (a truncated run or step event, a skipped step's ``remaining_deps``, the steps of a failed
        run), and which tasks are, by step (first seen in an event, so their ``queued_at`` and
        ``message_id`` are missing; a truncated field; an end derived without an event)."""
        head = self._head_unknown or self._head.status == RunStatus.FAILED
        return head, {slug: sorted(indexes) for slug, indexes in self._tasks_unknown.items() if indexes}

    def merge(self, run: Run | None, tasks: list[StepTask]) -> None:
        """Take a reading of the run's row and step rows (``run``; its steps' tasks are ignored)
        and of some tasks, and keep the rest; due times stay those of the last full reading."""
        waits = not (run or self._head).finished  # due times exist only while the run is started
        if run is not None:
            self._head = replace(run, step_states=(), due_at=self._head.due_at if waits else None)
            for step in run.step_states:
                known = self._steps.get(step.step_slug)
                self._step(step.step_slug)
                self._set_step(replace(step, tasks=(), due_at=known.due_at if known and waits else None))
            self._head_unknown = False
        for task in tasks:
            slug = task.step_slug
            self._step(slug)
            before = self._tasks[slug].get(task.task_index)
            if before is None and self._tasks[slug] and task.task_index < next(reversed(self._tasks[slug])):
                self._unsorted.add(slug)
            due = before.due_at if before is not None and waits else None
            self._put(slug, replace(task, due_at=due), before)
            self._tasks_unknown.get(slug, set()).discard(task.task_index)
        self.version += 1
        self._run = None

    def to_run(self) -> Run:
        """The state as a frozen ``Run`` (the same object until the next change)."""
        if self._run is None:
            states = []
            for slug, step in self._steps.items():
                built = self._built.get(slug)
                if built is None:
                    tasks = self._tasks[slug]
                    if slug in self._unsorted:
                        ordered = tuple(tasks[i] for i in sorted(tasks))
                        self._tasks[slug] = {t.task_index: t for t in ordered}
                        self._unsorted.discard(slug)
                    else:
                        ordered = tuple(tasks.values())
                    built = self._built[slug] = replace(step, tasks=ordered)
                states.append(built)
            self._run = replace(self._head, step_states=tuple(states))
        return self._run

    # ----------------------------------------------------------------- applying
    def apply(self, event: Any) -> bool:
        """Apply one event (as :func:`~pgflow.live.state.apply_event`); True when it changed the state."""
        if not isinstance(event, Event) or event.run_id != self.run_id:
            return False
        if isinstance(event, RunEvent):
            changed = self._apply_run(event)
        elif isinstance(event, StepEvent):
            changed = self._apply_step(event)
        elif isinstance(event, TaskEvent):
            changed = self._apply_task(event)
        else:
            return False
        if changed:
            self.version += 1
            self._run = None
            if isinstance(event, TaskEvent):
                if event.truncated:
                    self._tasks_unknown.setdefault(event.step_slug, set()).add(event.task_index)
            elif event.truncated or isinstance(event, StepSkippedEvent):
                self._head_unknown = True
        return changed

    def _apply_run(self, event: RunEvent) -> bool:
        head = _apply_run(self._head, event)
        if head is self._head:
            return False
        failed_now = head.status == RunStatus.FAILED and self._head.status != RunStatus.FAILED
        if head.finished and not self._head.finished:
            head = self._ended(head)
        self._head = head
        if failed_now:
            for slug in self._steps:
                self._end_open_tasks(slug)
        self._derive_run()
        return True

    def _ended(self, head: Run) -> Run:
        """A finished run waits for nothing: what get_run reads only for a started run (why it is
        held, when its work is due) is empty once it ends, so no reading is needed for it."""
        for slug, step in list(self._steps.items()):
            if step.due_at is not None:
                self._set_step(replace(step, due_at=None))
            for task in [t for t in self._tasks[slug].values() if t.due_at is not None]:
                self._put(slug, replace(task, due_at=None), task)
        return replace(head, held_by=None, due_at=None)

    def _step(self, slug: str) -> StepState:
        step = self._steps.get(slug)
        if step is None:
            step = self._steps[slug] = StepState(step_slug=slug, status=StepStatus.CREATED)
            self._tasks[slug] = {}
            self._counts[slug] = {}
        return step

    def _apply_step(self, event: StepEvent) -> bool:
        known = event.step_slug in self._steps
        step = self._step(event.step_slug)
        updated = _apply_step(step, event)
        if updated is step and known:
            return False
        self._set_step(updated)
        self._end_open_tasks(updated.step_slug)
        self._derive_step(updated.step_slug)
        self._derive_run()
        return True

    def _apply_task(self, event: TaskEvent) -> bool:
        known = event.step_slug in self._steps
        step = self._step(event.step_slug)
        tasks = self._tasks[step.step_slug]
        before = tasks.get(event.task_index)
        task = apply_task_event(before, event, self._head, step.step_slug)
        if task is None:  # a known task the event does not change
            return False
        end = task_end(step, self._head)
        if end is not None and task.status in _OPEN:
            task = replace(task, status=end)
        if before is None and tasks and event.task_index < next(reversed(tasks)):
            self._unsorted.add(step.step_slug)
        if before is None:
            self._tasks_unknown.setdefault(step.step_slug, set()).add(event.task_index)
        self._put(step.step_slug, task, before)
        self._built.pop(step.step_slug, None)
        self._derive_step(step.step_slug)
        if not known:
            self._derive_run()
        return True

    # ----------------------------------------------------------------- deriving
    def _set_step(self, step: StepState) -> None:
        self._steps[step.step_slug] = step
        self._built.pop(step.step_slug, None)

    def _end_open_tasks(self, slug: str) -> None:
        end = task_end(self._steps[slug], self._head)
        if end is None:
            return
        tasks = self._tasks[slug]
        for task in [t for t in tasks.values() if t.status in _OPEN]:
            self._put(slug, replace(task, status=end), task)
            self._tasks_unknown.setdefault(slug, set()).add(task.task_index)

    def _put(self, slug: str, task: StepTask, before: StepTask | None) -> None:
        self._tasks[slug][task.task_index] = task
        counts = self._counts[slug]
        if before is not None:
            counts[before.status] -= 1
        counts[task.status] = counts.get(task.status, 0) + 1
        self._built.pop(slug, None)

    def _derive_step(self, slug: str) -> None:
        step = self._steps[slug]
        left = remaining_tasks(step, self._counts[slug].get(TaskStatus.COMPLETED, 0))
        if left != step.remaining_tasks:
            self._set_step(copy_with(step, remaining_tasks=left))

    def _derive_run(self) -> None:
        left = remaining_steps(self._head, self._steps.values())
        if left != self._head.remaining_steps:
            self._head = replace(self._head, remaining_steps=left)

    def _derive_all(self) -> None:
        for slug in self._steps:
            self._end_open_tasks(slug)
            self._derive_step(slug)
        self._derive_run()  # to_run() stays the snapshot itself until an event changes something
