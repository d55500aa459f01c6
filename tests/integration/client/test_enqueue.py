"""enqueue / enqueue_in / enqueue_at: the run is stored at once, its first task visible when due."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg import sql

import pgflow

from .conftest import Api, echo_job, two_step_flow


def queue_state(db_url: str, queue: str) -> list[tuple[Any, ...]]:
    """(visible now?, vt, database now) per message of the queue."""
    with psycopg.connect(db_url) as conn:
        return conn.execute(
            sql.SQL("SELECT vt <= clock_timestamp(), vt, clock_timestamp() FROM pgmq.{} ORDER BY msg_id").format(
                sql.Identifier("q_" + queue))
        ).fetchall()


async def test_enqueue_in_stores_the_run_now_and_hides_its_task(api: Api, db_url: str) -> None:
    job = echo_job()
    await api.compile(job)
    run_id = await api.enqueue_in(job, {"to": "a@example.com"}, 3600)
    run = await api.get_run_with_states(run_id)
    assert run.status == "started" and run.input == {"to": "a@example.com"}
    assert run.step_states[0].tasks[0].status == "queued"
    [(visible, vt, now)] = queue_state(db_url, job.slug)
    assert not visible
    assert timedelta(minutes=59) < vt - now <= timedelta(hours=1)


async def test_enqueue_at_uses_the_instant_whatever_the_time_zone(api: Api, db_url: str) -> None:
    job = echo_job()
    await api.compile(job)
    due = (datetime.now(timezone.utc) + timedelta(days=2)).astimezone(ZoneInfo("Asia/Kolkata"))
    await api.enqueue_at(job, {"n": 1}, due)
    [(visible, vt, _)] = queue_state(db_url, job.slug)
    assert not visible and vt == due


async def test_enqueue_with_timedelta_and_keyword_forms(api: Api, db_url: str) -> None:
    job = echo_job()
    await api.compile(job)
    await api.enqueue(job, 1, delay_seconds=timedelta(minutes=5))
    due = datetime(2099, 1, 1, tzinfo=timezone.utc)
    await api.enqueue(job.slug, 2, scheduled_at=due)
    first, second = queue_state(db_url, job.slug)
    assert not first[0] and timedelta(minutes=4) < first[1] - first[2] <= timedelta(minutes=5)
    assert second[1] == due


async def test_a_past_time_or_no_delay_means_now(api: Api, db_url: str) -> None:
    job = echo_job()
    await api.compile(job)
    await api.enqueue_at(job, {}, datetime(2001, 1, 1, tzinfo=timezone.utc))
    await api.enqueue_in(job, {}, -30)
    await api.enqueue(job, {})
    assert [visible for visible, _, _ in queue_state(db_url, job.slug)] == [True, True, True]


async def test_every_root_task_of_a_flow_waits_and_start_delay_counts_from_due_time(api: Api, db_url: str) -> None:
    flow = pgflow.Flow("delayed_fanout")

    @flow.map
    def each(item):
        return item

    @flow.step(start_delay=60)
    def later(input):
        return 1

    await api.compile(flow)
    due = datetime.now(timezone.utc) + timedelta(hours=3)
    await api.enqueue_at(flow, [1, 2], due)
    states = queue_state(db_url, flow.slug)
    assert len(states) == 3 and not any(visible for visible, _, _ in states)
    assert sorted(vt for _, vt, _ in states) == [due, due, due + timedelta(seconds=60)]


async def test_bad_schedules_are_rejected_with_a_clear_error(api: Api) -> None:
    job = echo_job()
    await api.compile(job)
    with pytest.raises(pgflow.InvalidInput, match="no time zone"):
        await api.enqueue_at(job, {}, datetime(2030, 1, 1, 9, 0))
    with pytest.raises(pgflow.InvalidInput, match="not both"):
        await api.enqueue(job, {}, delay_seconds=5, scheduled_at=datetime.now(timezone.utc))
    with pytest.raises(pgflow.InvalidInput, match="seconds"):
        await api.enqueue_in(job, {}, "soon")
    with pytest.raises(pgflow.FlowNotFound):
        await api.enqueue_in("no_such_job", {}, 5)
    assert await api.list_runs(job) == []


async def test_enqueue_works_for_a_multi_step_flow_too(api: Api) -> None:
    flow = two_step_flow()
    await api.compile(flow)
    run = await api.get_run_with_states(await api.enqueue_in(flow, {"n": 1}, 60))
    assert [s.status for s in run.step_states] == ["started", "created"]
