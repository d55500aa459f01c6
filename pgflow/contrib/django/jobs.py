"""The pgflow job that runs the tasks of Django's tasks framework (``pgflow_worker`` serves it
when a :class:`pgflow.contrib.django.tasks.PgflowBackend` is configured).

One job, ``django_tasks``, for every Django queue name: its input names the task (its module
path), its arguments and its queue. A Django task runs once (the framework has no retries); a
failure is the run's failure, with the exception and traceback as its error.
"""

from __future__ import annotations

from typing import Any

from django.utils.module_loading import import_string

from pgflow.contrib.django.compat import TaskContext, TaskResult, TaskResultStatus
from pgflow.dsl.job import Job

JOB_SLUG = "django_tasks"
FAILED_PREFIX = "DjangoTaskFailed: "


class DjangoTaskFailed(Exception):
    """A Django task raised; the message starts with the exception's import path."""


django_tasks = Job(JOB_SLUG, max_attempts=1)


@django_tasks.perform
def run_django_task(input: Any, ctx: Any) -> Any:
    from django.db import close_old_connections

    close_old_connections()  # this thread's connections, as Django does around each request
    try:
        return call_task(input, ctx)
    finally:
        close_old_connections()


def call_task(payload: dict[str, Any], ctx: Any) -> Any:
    """Run one Django task from a ``django_tasks`` run's input (the job's handler)."""
    task = import_string(payload["task"])
    args, kwargs = payload.get("args", []), payload.get("kwargs", {})
    try:
        if payload.get("takes_context"):
            result = TaskResult(task=task, id=str(ctx.run_id), status=TaskResultStatus.RUNNING,
                                enqueued_at=None, started_at=None, finished_at=None,
                                last_attempted_at=None, args=args, kwargs=kwargs,
                                backend=payload.get("backend", "default"), errors=[],
                                worker_ids=[str(ctx.worker_id)])
            value = task.call(TaskContext(task_result=result), *args, **kwargs)
        else:
            value = task.call(*args, **kwargs)
    except Exception as exc:
        path = f"{type(exc).__module__}.{type(exc).__qualname__}"
        raise DjangoTaskFailed(f"{path}: {exc}") from exc
    return value
