"""A run whose work all waits for later (enqueued for later) is not counted as running: the
overview counts it apart, and the runs list shows it scheduled with its due time."""

from __future__ import annotations

import re

import httpx

import pgflow
from pgflow.web.app import create_app
from tests.web.conftest import html_text


async def test_a_run_enqueued_for_later_is_counted_and_listed_as_scheduled(db_url: str) -> None:
    job = pgflow.Job("later_job")

    @job.perform
    def deliver(input):
        return 1

    with pgflow.Client(db_url) as client:
        client.compile(job)
        later = client.enqueue_in(job, {}, 3600)
        now = client.enqueue(job, {})

    app = create_app(db_url, timezone="UTC")
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as web:
            overview = html_text(await web.get("/"))
            listing = html_text(await web.get("/runs"))
    finally:
        await app.state.dashboard.close()
    assert re.search(r'data-testid="metric-running">1<', overview)  # only the run due now
    assert re.search(r'data-testid="metric-scheduled">1<', overview)
    rows = dict(re.findall(r'<tr data-run="([0-9a-f-]{36})">(.*?)</tr>', listing, re.S))
    assert 'data-testid="run-due"' in rows[str(later)] and "s-scheduled" in rows[str(later)]
    assert 'data-testid="run-due"' not in rows[str(now)] and "s-started" in rows[str(now)]
