"""client.retry_run: a new run of a failed or cancelled run, linked by retry_of; nothing to retry
for a run still going or completed; unknown runs."""

from __future__ import annotations

import uuid

import pytest

import pgflow

from . import sim
from .conftest import Api, failing_flow, two_step_flow


async def test_a_failed_run_is_retried_with_its_flow_and_input(api: Api, db_url: str) -> None:
    flow = failing_flow()
    await api.compile(flow)
    original = await api.start_flow(flow, {"order": 7})
    sim.drain(db_url, flow)
    assert (await api.get_run(original)).status == "failed"

    retried = await api.retry_run(str(original))

    run = await api.get_run_with_states(retried)
    assert (run.flow_slug, run.input, run.status, run.retry_of) == (flow.slug, {"order": 7}, "started", original)
    assert (await api.get_run(retried)).retry_of == original
    assert (await api.get_run(original)).retry_of is None


async def test_a_cancelled_run_is_retried(api: Api) -> None:
    flow = two_step_flow()
    await api.compile(flow)
    original = await api.start_flow(flow, {"n": 1})
    await api.cancel_run(original, reason="wrong day")

    retried = await api.retry_run(original)

    assert (await api.get_run(retried)).retry_of == original


async def test_nothing_to_retry_for_a_run_still_going_or_completed(api: Api, db_url: str) -> None:
    flow = two_step_flow()
    await api.compile(flow)
    done = await api.start_flow(flow, {"n": 1})
    sim.drain(db_url, flow)
    going = await api.start_flow(flow, {"n": 2})

    with pytest.raises(pgflow.RunStateError, match=f"nothing to retry: run {done} is completed") as raised:
        await api.retry_run(done)
    assert str(raised.value.run_id) == str(done)
    with pytest.raises(pgflow.RunStateError, match="is started.*cancel it"):
        await api.retry_run(going)
    assert len(await api.list_runs(flow=flow)) == 2


async def test_an_unknown_or_malformed_run_id(api: Api) -> None:
    with pytest.raises(pgflow.RunNotFound):
        await api.retry_run(uuid.uuid4())
    with pytest.raises(pgflow.InvalidInput):
        await api.retry_run("not-a-uuid")
