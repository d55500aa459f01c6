"""client.resume_run: a new run of a failed or cancelled run, linked by retry_of, that reuses the
completed steps; refused for a run still going or completed, and for unknown runs."""

from __future__ import annotations

import uuid

import psycopg
import pytest

import pgflow

from . import sim
from .conftest import Api, two_step_flow


async def test_a_run_failed_at_its_second_step_resumes_from_there(api: Api, db_url: str) -> None:
    flow = two_step_flow()
    await api.compile(flow)
    original = await api.start_flow(flow, {"n": 3})
    with psycopg.connect(db_url, autocommit=True) as conn:
        worker = sim.register_worker(conn, flow.slug)
        [double] = sim.claim(conn, flow.slug, worker)
        sim.complete(conn, double, 6)
        [add_one] = sim.claim(conn, flow.slug, worker)
        sim.fail(conn, add_one, "boom")
    assert (await api.get_run(original)).status == "failed"

    resumed = await api.resume_run(str(original))

    assert sim.drain(db_url, flow) == 1  # add_one only: double is reused
    run = await api.get_run(resumed)
    assert (run.status, run.output, run.retry_of) == ("completed", {"add_one": 7}, original)


async def test_refused_for_a_run_still_going_or_completed_and_unknown_runs(api: Api, db_url: str) -> None:
    flow = two_step_flow()
    await api.compile(flow)
    done = await api.start_flow(flow, {"n": 1})
    sim.drain(db_url, flow)
    going = await api.start_flow(flow, {"n": 2})

    with pytest.raises(pgflow.RunStateError, match=f"nothing to resume: run {done} is completed"):
        await api.resume_run(done)
    with pytest.raises(pgflow.RunStateError, match="is started"):
        await api.resume_run(going, force=True)
    with pytest.raises(pgflow.RunNotFound):
        await api.resume_run(uuid.uuid4())
    assert len(await api.list_runs(flow=flow)) == 2


async def test_a_cancelled_run_is_resumed(api: Api) -> None:
    flow = two_step_flow()
    await api.compile(flow)
    original = await api.start_flow(flow, {"n": 1})
    await api.cancel_run(original, reason="wrong day")

    assert (await api.get_run(await api.resume_run(original))).retry_of == original
