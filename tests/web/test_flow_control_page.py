"""The flow page's flow control: limits, slots in use and queue depth, and the pause / resume
buttons (dashboard actions: confirm page, CSRF-checked POST, audit row with the flow)."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import psycopg

import pgflow
from pgflow.web import create_app


def _job(slug: str) -> pgflow.Job:
    job = pgflow.Job(slug, max_running=4)

    @job.perform
    def only(input):
        return 1

    return job


@asynccontextmanager
async def _web(db_url: str, **options: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(db_url, timezone="UTC", **options)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as web:
        yield web
    await app.state.dashboard.close()


def _form(page: str) -> dict[str, str]:
    return {k: html.unescape(v) for k, v in re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">', page)}


def _panel(page: str) -> str:
    return page.split('id="flow-control"')[1].split("</section>")[0]


async def test_the_flow_page_shows_limits_slots_and_queue_depth(db_url: str) -> None:
    with pgflow.Client(db_url) as client:
        client.compile(_job("limited_page"))
        for n in range(3):
            client.enqueue("limited_page", {"n": n})
    async with _web(db_url) as web:
        panel = _panel((await web.get("/jobs/limited_page")).text)
    assert "claiming" in panel
    assert 'data-fc="running">0<' in panel and 'data-fc="limit">4<' in panel
    assert 'data-fc="queued">3<' in panel
    assert "Pause flow" not in panel  # actions are off without allow_actions or an auth hook


async def test_pause_and_resume_from_the_flow_page(db_url: str) -> None:
    with pgflow.Client(db_url) as client:
        client.compile(_job("pausable_page"))
    async with _web(db_url, allow_actions=True) as web:
        page = (await web.get("/jobs/pausable_page")).text
        assert 'href="/actions/pause_flow?target=pausable_page"' in page and 'data-action="resume_flow"' not in page
        confirm = await web.get("/actions/pause_flow?target=pausable_page")
        assert confirm.status_code == 200 and "Pause pausable_page?" in confirm.text

        done = await web.post("/actions/pause_flow", data={**_form(confirm.text), "reason": "incident 7"})

        assert done.status_code == 303
        panel = _panel((await web.get("/jobs/pausable_page")).text)
        assert "paused" in panel and "incident 7" in panel and 'data-action="resume_flow"' in panel
        with pgflow.Client(db_url) as client:
            assert client.get_flow_control("pausable_page").pause_reason == "incident 7"

        resumed = await web.post("/actions/resume_flow",
                                 data=_form((await web.get("/actions/resume_flow?target=pausable_page")).text))
        assert resumed.status_code == 303
    with pgflow.Client(db_url) as client:
        assert not client.get_flow_control("pausable_page").paused
    with psycopg.connect(db_url) as conn:
        audit = conn.execute("SELECT action, flow_slug, outcome FROM pgflow.run_actions ORDER BY action_id").fetchall()
    assert audit == [("pause_flow", "pausable_page", "done"), ("resume_flow", "pausable_page", "done")]


async def test_the_flow_page_shows_the_per_key_limit_and_the_busiest_keys(db_url: str) -> None:
    job = pgflow.Job("keyed_page", concurrency_key="customer.id", max_running_per_key=2)

    @job.perform
    def only(input):
        return 1

    with pgflow.Client(db_url) as client:
        client.compile(job)
        for customer in ("c-7", "c-7", "c-9"):
            client.enqueue(job, {"customer": {"id": customer}})
    with psycopg.connect(db_url, autocommit=True) as conn:
        worker_id = conn.execute("SELECT gen_random_uuid()").fetchone()[0]
        conn.execute("SELECT pgflow.ensure_workers()") if False else None
        conn.execute("INSERT INTO pgflow.workers (worker_id, queue_name, function_name) VALUES (%s, 'keyed_page', 't')",
                     (worker_id,))
        conn.execute("SELECT * FROM pgflow.claim_tasks('keyed_page', 10, %s)", (worker_id,))
    async with _web(db_url) as web:
        panel = _panel((await web.get("/jobs/keyed_page")).text)
    row = panel.split('data-fc="per-key"')[1].split("</tr>")[0]
    assert "customer.id" in row and "2 per key" in row
    assert "c-7 2, c-9 1" in row


async def test_the_run_page_says_why_flow_control_holds_the_run_and_names_its_key(db_url: str) -> None:
    job = pgflow.Job("keyed_page", concurrency_key="customer", max_running_per_key=2)

    @job.perform
    def only(input):
        return 1

    with pgflow.Client(db_url) as client:
        client.compile(job)
        run_id = client.enqueue(job, {"customer": "acme"})
        other = client.enqueue(job, {"customer": "acme"})
        async with _web(db_url) as web:
            before = (await web.get(f"/runs/{run_id}")).text
            client.pause_flow(job, reason="incident 42")
            paused = (await web.get(f"/runs/{other}")).text
    assert 'data-testid="run-concurrency-key">acme<' in before and 'data-testid="run-held-by"' not in before
    assert re.search(r'data-testid="run-held-by">paused[^<]*incident 42<', paused), paused


async def test_the_flow_page_shows_rate_limits(db_url: str) -> None:
    job = pgflow.Job("rated_page", rate_limit=(10, 1.0), concurrency_key="customer", rate_limit_per_key=(2, 60.0))

    @job.perform
    def only(input):
        return 1

    with pgflow.Client(db_url) as client:
        client.compile(job)
    async with _web(db_url) as web:
        panel = _panel((await web.get("/jobs/rated_page")).text)
    rates = " ".join(panel.split('data-fc="rates">')[1].split("</p>")[0].split())
    assert rates == "Rate limits (task starts, smoothed): job 10 per 1.0 s · each key 2 per 60.0 s"
