"""`pgflow runs show` names the tasks a step's skip or its run's failure ended."""

from __future__ import annotations

import uuid

from pgflow.cli.runs import _step_label
from pgflow.models import StepState, StepStatus, StepTask, TaskStatus


def _tasks(*statuses: TaskStatus) -> tuple[StepTask, ...]:
    run_id = uuid.uuid4()
    return tuple(StepTask(flow_slug="f", run_id=run_id, step_slug="each", task_index=i, status=s, attempts_count=1)
                 for i, s in enumerate(statuses))


def test_cancelled_tasks_are_counted():
    state = StepState(step_slug="each", status=StepStatus.STARTED, initial_tasks=3, step_type="map",
                      tasks=_tasks(TaskStatus.COMPLETED, TaskStatus.CANCELLED, TaskStatus.CANCELLED))
    assert _step_label(state) == "each  started  1/3 tasks  2 tasks cancelled"


def test_a_skipped_task_is_named():
    state = StepState(step_slug="each", status=StepStatus.SKIPPED, initial_tasks=2, step_type="map",
                      skip_reason="handler_failed", error_message="boom",
                      tasks=_tasks(TaskStatus.FAILED, TaskStatus.SKIPPED))
    assert _step_label(state) == "each  skipped  0/2 tasks  1 task skipped  skipped: handler_failed  error: boom"
