"""Fixtures for schedule tests: a database with a compiled job and a controllable clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import psycopg
import pytest

import pgflow
from pgflow.db import drive_sync
from pgflow.ops.flows import compile_flow
from tests.helpers import iso

UTC = timezone.utc


def at(text: str) -> datetime:
    """An aware datetime from ISO text (UTC when no offset is given)."""
    value = iso(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def make_job(slug: str = "tick_job", cron: object = None) -> pgflow.Job:
    job = pgflow.Job(slug, cron=cron)

    @job.perform
    def handle(input):  # never run here: the tests look at the runs the scheduler starts
        return input

    return job


def compile_all(conn: psycopg.Connection, *flows: pgflow.Flow) -> None:
    for flow in flows:
        drive_sync(conn, compile_flow(flow))


@pytest.fixture
def sconn(db_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to a fresh database holding the job ``tick_job``."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        compile_all(conn, make_job())
        yield conn


def scheduled_runs(conn: psycopg.Connection, slug: str | None = None) -> list[tuple]:
    """(schedule_slug, tick_at, catch_up_from, trigger) of the marked runs, oldest tick first."""
    rows = conn.execute(
        "SELECT m.schedule_slug, m.tick_at, m.catch_up_from, m.trigger FROM pgflow.scheduled_runs m "
        "JOIN pgflow.runs r USING (run_id) WHERE %(slug)s::text IS NULL OR m.schedule_slug = %(slug)s "
        "ORDER BY m.tick_at, m.created_at",
        {"slug": slug},
    ).fetchall()
    return rows


def ticks(conn: psycopg.Connection, slug: str | None = None) -> list[datetime]:
    return [row[1] for row in scheduled_runs(conn, slug)]
