"""What follows a committed report: counts, wake-ups where new work may be, run events.

A completed task whose step has dependents makes its queue due at once (their tasks may have
started), and again when a dependent's ``start_delay`` ends; a failed attempt that will be
retried makes it due when the retry becomes visible. ``run.completed`` / ``run.failed`` are
emitted once per run that a report ended (the reporter reads those runs only when a telemetry
handler wants them).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

from pgflow import telemetry
from pgflow.models import RunStatus
from pgflow.worker.executor import Outcome
from pgflow.worker.plan import StepPlan

REMEMBERED_RUNS = 10_000  # ended runs kept to emit each run event once


class Followup:
    def __init__(
        self,
        plans: Mapping[tuple[str, str], StepPlan],
        worker_name: str,
        wake: Callable[[str], None],
        wake_later: Callable[[float, str], None],
        freed: Callable[[str], None] | None = None,
    ) -> None:
        self._plans = plans
        self._worker_name = worker_name
        self._wake = wake
        self._wake_later = wake_later
        self._freed = freed  # a slot of the task's queue is free (flow control)
        self._reported_runs: OrderedDict[UUID, None] = OrderedDict()
        self.completed = 0  # tasks reported completed / failed to the database
        self.failed = 0

    def on_reported(self, batch: list[Outcome], finished_runs: list[dict[str, Any]]) -> None:
        """The reporter committed ``batch``; ``finished_runs`` are the runs it ended."""
        plans = self._plans
        for outcome in batch:
            if outcome.completed:
                self.completed += 1
            else:
                self.failed += 1
            queue = outcome.task.flow_slug
            if self._freed is not None:
                self._freed(queue)
            plan = plans.get((outcome.task.flow_slug, outcome.task.step_slug))
            if plan is None:
                continue
            if outcome.completed:
                if plan.has_dependents:
                    self._wake(queue)
                for delay in plan.dependent_start_delays:
                    self._wake_later(delay + 0.05, queue)
            else:
                retry_in = plan.retry_delay(outcome.task.attempt)
                if retry_in is not None:
                    self._wake_later(retry_in + 0.05, queue)
        for row in finished_runs:
            if row["run_id"] in self._reported_runs:
                continue
            self._reported_runs[row["run_id"]] = None
            if len(self._reported_runs) > REMEMBERED_RUNS:
                self._reported_runs.popitem(last=False)
            event = "run.completed" if row["status"] == RunStatus.COMPLETED else "run.failed"
            telemetry.execute(event, {}, {"run_id": row["run_id"], "flow_slug": row["flow_slug"],
                                          "error_message": row.get("error_message"),
                                          "worker_name": self._worker_name})
