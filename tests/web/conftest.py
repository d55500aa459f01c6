"""Fixtures of the dashboard tests: a database holding real runs in every state, and the app."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest

from pgflow import Client
from pgflow.web import create_app
from tests.conftest import create_database, drop_database, url_for
from tests.web import flows, seed
from tests.web.driver import Driver

CHROMIUM = "/usr/bin/chromium"


@dataclass
class Scenario:
    url: str
    runs: dict[str, UUID] = field(default_factory=dict)
    workers: dict[str, UUID] = field(default_factory=dict)


def build_scenario(url: str) -> Scenario:
    """Real runs driven through the engine: completed, skipped, failed, running, jobs, scheduled."""
    sc = Scenario(url)
    with Client(url) as client:
        for flow in (flows.orders, flows.send_email):
            client.compile(flow)
        with Driver(url, flows.orders) as orders, Driver(url, flows.send_email) as jobs:
            sc.workers["healthy"] = orders.worker_id
            sc.runs["completed"] = client.start_flow(flows.orders, {"n": 3, "notify": True})
            orders.drain()
            sc.runs["skipped"] = client.start_flow(flows.orders, {"n": 2})
            orders.drain()
            sc.runs["failed"] = client.start_flow(flows.orders, {"n": 15, "notify": True})
            orders.drain()
            sc.runs["job_completed"] = client.start_flow(flows.send_email, {"to": "ada@example.com"})
            sc.runs["job_failed"] = client.start_flow(flows.send_email, {"to": "bob@example.com", "bounce": True})
            jobs.drain()
            # a schedule on the job, and one run it started for a tick
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(
                    "INSERT INTO pgflow.schedules (schedule_slug, flow_slug, expression, input, next_run_at)"
                    " VALUES ('nightly_email', 'send_email', '0 3 * * *', '{\"to\": \"ops@example.com\"}',"
                    " now() + interval '1 day')")
                tick = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
                sc.runs["scheduled"] = conn.execute("SELECT pgflow.start_scheduled_flow('nightly_email', %s)",
                                                    (tick,)).fetchone()[0]
            jobs.drain()
            # the last one stays running: fetch done, two items done, one started, two queued
            sc.runs["running"] = client.start_flow(flows.orders, {"n": 5, "notify": True})
            for task in orders.claim():
                orders.finish(task)
            claimed = [t for t in orders.claim(3) if t["step_slug"] == "items"]
            for task in claimed[:2]:
                orders.finish(task)
    with psycopg.connect(url) as conn:
        sc.workers["stale"] = seed.add_worker(conn, "orders", timedelta(seconds=30))
        sc.workers["dead"] = seed.add_worker(conn, "orders", timedelta(minutes=30))
        sc.workers["stopped"] = seed.add_worker(conn, "send_email", timedelta(minutes=2), stopped=True)
        conn.commit()
    return sc


@pytest.fixture(scope="session")
def scenario(pg_admin_url: str, template_url: str) -> Iterator[Scenario]:
    """One database for the dashboard tests, with real runs in every state (the pages only read it)."""
    name = create_database(pg_admin_url)
    try:
        yield build_scenario(url_for(pg_admin_url, name))
    finally:
        drop_database(pg_admin_url, name)


@pytest.fixture
async def web(scenario: Scenario) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the dashboard app over the scenario's database (no network)."""
    app = create_app(scenario.url, timezone="UTC")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        yield client
    await app.state.dashboard.close()


def heartbeat(url: str, worker_id: UUID, ago: timedelta = timedelta(0)) -> None:
    """What a live worker does every few seconds (the scenario's worker is only a driver); ``ago``
    dates the heartbeat back, for a worker that went quiet that long ago."""
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE pgflow.workers SET last_heartbeat_at = now() - %s WHERE worker_id = %s", (ago, worker_id))
        conn.commit()


def chromium_or_fail() -> str:
    """The Chromium binary; in CI a missing one fails the test instead of skipping it."""
    if shutil.which(CHROMIUM) or os.path.exists(CHROMIUM):
        return CHROMIUM
    message = f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message + "; CI=true, so this is an error, not a skip")
    pytest.skip(message)
    raise AssertionError  # unreachable


def html_text(response: Any) -> str:
    assert response.status_code == 200, (response.status_code, response.text[:2000])
    return response.text
