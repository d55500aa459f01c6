"""The pgflow job that runs the tasks of Django's tasks framework (``pgflow_worker`` serves it
when a :class:`pgflow.contrib.django.tasks.PgflowBackend` is configured).

One job, ``django_tasks``, for every Django queue name: its input names the task (its module
path), its arguments and its queue. A Django task runs once (the framework has no retries); a
failure is the run's failure, with the exception and traceback as its error.
"""

from __future__ import annotations

from typing import Any

from pgflow.dsl.job import Job

JOB_SLUG = "django_tasks"

django_tasks = Job(JOB_SLUG, max_attempts=1)


@django_tasks.perform
def run_django_task(input: Any, ctx: Any) -> Any:
    from django.db import close_old_connections

    from pgflow.contrib.django.tasks import call_task

    close_old_connections()  # this thread's connections, as Django does around each request
    try:
        return call_task(input, ctx)
    finally:
        close_old_connections()
