"""``manage.py pgflow_worker``: ``pgflow worker`` for the flows and jobs of the installed apps
(and the tasks of Django's tasks framework when a pgflow backend is configured), on the pgflow
database of the settings."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run the handlers of the apps' flows and jobs (and Django tasks) until SIGINT/SIGTERM."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--concurrency", "-c", type=int, default=10, help="Tasks run at once.")
        parser.add_argument("--name", default=None, help="Name in pgflow.workers.")
        parser.add_argument("--otel", action="store_true", help="Send spans to OpenTelemetry.")
        parser.add_argument("--log-format", choices=["text", "json"], default="text")
        parser.add_argument("--no-scheduler", action="store_true", help="Do not run the built-in scheduler.")

    def handle(self, *args: Any, **options: Any) -> None:
        from pgflow.cli import main_group
        from pgflow.contrib.django import database_url, discover, pgflow_jobs

        modules, _ = discover()
        if pgflow_jobs():
            modules.append("pgflow.contrib.django.jobs")
        if not modules:
            raise CommandError("no flows or jobs found: define them in a 'flows' or 'jobs' module of an installed "
                               "app (PGFLOW['MODULES'] names the modules), or configure the pgflow tasks backend")
        argv = ["worker", *modules, "--database-url", database_url(), "--concurrency", str(options["concurrency"]),
                "--log-format", options["log_format"]]
        if options["name"]:
            argv += ["--name", options["name"]]
        if options["otel"]:
            argv.append("--otel")
        if options["no_scheduler"]:
            argv.append("--no-scheduler")
        main_group.main(argv, prog_name="manage.py pgflow_worker", standalone_mode=True)
