"""The Django app: checks at startup that the pgflow database is PostgreSQL."""

from __future__ import annotations

from django.apps import AppConfig


class PgflowConfig(AppConfig):
    name = "pgflow.contrib.django"
    label = "pgflow"
    verbose_name = "pgflow"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from pgflow.contrib.django import check_database

        check_database()  # a project without PostgreSQL stops here, saying what to change
