"""``manage.py pgflow_install``: install (or upgrade) pgflow's schema in the pgflow database and
compile the flows and jobs of the installed apps."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Install or upgrade the pgflow schema (pgmq included) and compile the apps' flows and jobs."

    def handle(self, *args: Any, **options: Any) -> None:
        import psycopg

        from pgflow.contrib.django import database_url, discover, get_client, pgflow_jobs
        from pgflow.db import drive_sync
        from pgflow.migrate import install

        url = database_url()
        with psycopg.connect(url) as conn:
            with conn.transaction():
                applied = drive_sync(conn, install())
        _, flows = discover()
        client = get_client()
        for flow in [*flows, *pgflow_jobs()]:
            client.compile(flow)
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in applied) if applied else "already up to date"
        jobs = pgflow_jobs()
        self.stdout.write(f"pgflow schema: {names}; compiled {len(flows)} flow(s) and job(s) of the apps"
                          + (f" and the job of Django tasks ({jobs[0].slug})" if jobs else ""))
