"""LiveRun's derived task ends: the engine ends a skipped step's and a failed run's unfinished
tasks without a task event, and the live state follows from step:skipped / run:failed, in any
event order."""

from __future__ import annotations

import uuid

from pgflow.events import parse_event
from pgflow.live import apply_event
from pgflow.models import Run, RunStatus, StepState, StepStatus, StepTask, TaskStatus

RUN_ID = uuid.uuid4()


def _run(*tasks: tuple[str, TaskStatus, int]) -> Run:
    steps = {}
    for slug, status, attempts in tasks:
        task = StepTask(flow_slug="f", run_id=RUN_ID, step_slug=slug, task_index=len(steps.get(slug, ())),
                        status=status, attempts_count=attempts)
        steps[slug] = (*steps.get(slug, ()), task)
    states = tuple(StepState(step_slug=slug, status=StepStatus.STARTED, initial_tasks=len(t), tasks=t)
                   for slug, t in steps.items())
    return Run(run_id=RUN_ID, flow_slug="f", status=RunStatus.STARTED, step_states=states)


def _event(kind: str, **fields: object) -> object:
    return parse_event({"event_type": kind, "run_id": str(RUN_ID), "flow_slug": "f",
                        "ts": "2026-01-01T00:00:00+00:00", **fields})


def _statuses(run: Run) -> dict[str, list[str]]:
    return {s.step_slug: [t.status.value for t in s.tasks] for s in run.step_states}


def test_run_failed_cancels_unfinished_tasks_and_a_late_task_started_does_not_revive_them():
    run = _run(("a", TaskStatus.STARTED, 1), ("a", TaskStatus.COMPLETED, 1), ("b", TaskStatus.QUEUED, 0))
    run = apply_event(run, _event("run:failed", status="failed", failed_at="2026-01-01T00:00:00+00:00",
                                  error_message="boom", failed_step_slug="a"))
    assert _statuses(run) == {"a": ["cancelled", "completed"], "b": ["cancelled"]}

    late = apply_event(run, _event("task:started", step_slug="b", task_index=0, status="started", attempt=1,
                                   worker_id=str(uuid.uuid4()),
                                   started_at="2026-01-01T00:00:00+00:00"))
    assert _statuses(late) == _statuses(run)


def test_step_skipped_skips_its_unfinished_tasks_only():
    run = _run(("a", TaskStatus.STARTED, 1), ("a", TaskStatus.FAILED, 1), ("b", TaskStatus.STARTED, 1))
    run = apply_event(run, _event("step:skipped", step_slug="a", status="skipped", skip_reason="handler_failed",
                                  skipped_at="2026-01-01T00:00:00+00:00"))
    assert _statuses(run) == {"a": ["skipped", "failed"], "b": ["started"]}
