"""A backend for Django's tasks framework that runs ``@task`` functions as pgflow jobs.

    TASKS = {"default": {"BACKEND": "pgflow.contrib.django.tasks.PgflowBackend"}}

Works with ``django.tasks`` (Django 6, Python 3.12+) and with the ``django_tasks`` backport (the
same API on older Pythons). ``enqueue`` starts a run of the ``django_tasks`` job
(:mod:`pgflow.contrib.django.jobs`) on Django's own connection, so a task enqueued inside
``transaction.atomic`` exists only if that transaction commits. The result id is the run id;
``get_result`` reads the run. ``run_after`` is supported (the job's task is due then), and so is
``priority``: Django's -100..100 maps onto pgflow's 0-1000 (:func:`pgflow_priority`), so tasks of a
higher priority are claimed first and equal ones keep their order.
"""

from __future__ import annotations

from typing import Any

from pgflow.contrib.django import start_flow

from pgflow.contrib.django.compat import (
    BaseTaskBackend, TaskError, TaskResult, TaskResultDoesNotExist, TaskResultStatus)
from pgflow.contrib.django.jobs import FAILED_PREFIX, DjangoTaskFailed

from django.utils.module_loading import import_string

class PgflowBackend(BaseTaskBackend):
    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    supports_priority = True

    def enqueue(self, task: Any, args: Any, kwargs: Any) -> Any:
        from pgflow.contrib.django.jobs import django_tasks

        self.validate_task(task)
        result = TaskResult(task=task, id="", status=TaskResultStatus.READY, enqueued_at=None, started_at=None,
                            finished_at=None, last_attempted_at=None, args=args, kwargs=kwargs,
                            backend=self.alias, errors=[], worker_ids=[])
        payload = {"task": task.module_path, "args": result.args, "kwargs": result.kwargs,
                   "queue": task.queue_name, "backend": self.alias, "takes_context": task.takes_context}
        run_id = start_flow(django_tasks, payload, scheduled_at=task.run_after,
                            priority=pgflow_priority(task.priority))
        object.__setattr__(result, "id", str(run_id) if run_id is not None else "")
        return result

    def get_result(self, result_id: str) -> Any:
        from pgflow.contrib.django import get_client
        from pgflow.errors import InvalidInput, RunNotFound

        try:
            run = get_client().get_run_with_states(result_id)
        except (RunNotFound, InvalidInput):
            raise TaskResultDoesNotExist(result_id) from None
        return _result_of(run, self.alias)


def pgflow_priority(django_priority: int) -> int | None:
    """The pgflow priority of a Django task priority: 1..100 become 10..1000; Django's default 0
    and every negative priority become pgflow's default (None, i.e. 0), as pgflow has no priority
    below its default: such tasks keep their queue order among themselves."""
    return django_priority * 10 if django_priority > 0 else None


def _result_of(run: Any, alias: str) -> Any:
    payload = run.input or {}
    task = import_string(payload["task"])
    step = run.step_states[0] if run.step_states else None
    started = step.started_at if step is not None else None
    tasks = step.tasks if step is not None else ()
    status = {"completed": TaskResultStatus.SUCCESSFUL, "failed": TaskResultStatus.FAILED}.get(
        str(run.status), TaskResultStatus.RUNNING if tasks and tasks[0].started_at else TaskResultStatus.READY)
    errors = []
    if status == TaskResultStatus.FAILED:
        text = (step.error_message if step is not None else None) or ""
        errors.append(TaskError(exception_class_path=_exception_path(text), traceback=text))
    result = TaskResult(task=task, id=str(run.run_id), status=status, enqueued_at=run.started_at,
                        started_at=started, finished_at=run.completed_at or run.failed_at,
                        last_attempted_at=tasks[0].started_at if tasks else None,
                        args=payload.get("args", []), kwargs=payload.get("kwargs", {}), backend=alias,
                        errors=errors, worker_ids=[str(t.last_worker_id) for t in tasks if t.last_worker_id])
    if status == TaskResultStatus.SUCCESSFUL and step is not None:
        object.__setattr__(result, "_return_value", step.output)
    return result


def _exception_path(error: str) -> str:
    first = error.split("\n", 1)[0]
    if first.startswith(FAILED_PREFIX):
        return first[len(FAILED_PREFIX):].split(":", 1)[0].strip()
    return "builtins.Exception"


__all__ = ["PgflowBackend", "DjangoTaskFailed"]
