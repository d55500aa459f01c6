"""The schedule methods of Client and AsyncClient."""

from __future__ import annotations

import pgflow
from pgflow import Cron

from .conftest import make_job


def test_client_manages_schedules(db_url):
    job = make_job()
    with pgflow.Client(db_url) as client:
        client.compile(job)
        created = client.schedule(job, Cron("0 9 * * *", input={"type": "daily"}), timezone="Europe/Berlin")
        assert (created.slug, created.input, created.description) == (
            "tick_job", {"type": "daily"}, "every day at 09:00 Europe/Berlin")
        assert client.pause_schedule("tick_job").status == "paused"
        assert client.resume_schedule("tick_job").next_run_at is not None
        run_id = client.run_schedule_now("tick_job")
        assert [h["run_id"] for h in client.schedule_history("tick_job")] == [run_id]
        assert [s.slug for s in client.list_schedules()] == ["tick_job"]
        client.unschedule("tick_job")
        assert client.list_schedules() == []


async def test_async_client_manages_schedules(db_url):
    job = make_job()
    async with pgflow.AsyncClient(db_url) as client:
        await client.compile(job)
        await client.schedule(job, "*/5 * * * *", slug="every_five")
        [listed] = await client.list_schedules()
        assert (listed.slug, listed.description, listed.status) == ("every_five", "every fifth minute of every hour", "active")
        assert (await client.get_schedule("every_five")).flow_slug == "tick_job"
