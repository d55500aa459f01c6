"""Django's tasks framework, wherever it comes from: ``django.tasks`` (Django 6) or the
``django_tasks`` backport (the same API)."""

from __future__ import annotations

try:  # Django 6
    from django.tasks.backends.base import BaseTaskBackend
    from django.tasks.base import TaskContext, TaskError, TaskResult, TaskResultStatus
    from django.tasks.exceptions import TaskResultDoesNotExist
except ImportError:
    try:  # the backport, module django_tasks
        from django_tasks.backends.base import BaseTaskBackend
        from django_tasks.base import TaskContext, TaskError, TaskResult, TaskResultStatus
        from django_tasks.exceptions import TaskResultDoesNotExist
    except ImportError as exc:
        from pgflow.errors import MissingExtra

        raise MissingExtra("Django's tasks framework", "django",
                           "django.tasks (Django 6) or the django-tasks backport") from exc


__all__ = ["BaseTaskBackend", "TaskContext", "TaskError", "TaskResult", "TaskResultDoesNotExist", "TaskResultStatus"]
