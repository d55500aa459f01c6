"""client.cancel_run: ends a run still going, says so; a second cancel or a finished run is
"nothing changed"; an unknown run is RunNotFound; get_run shows the reason and time."""

from __future__ import annotations

import uuid

import pytest

import pgflow
from pgflow.models import CancelResult

from . import sim
from .conftest import Api, two_step_flow


async def test_cancel_ends_a_started_run_and_get_run_shows_it(api: Api) -> None:
    flow = two_step_flow()
    await api.compile(flow)
    run_id = await api.start_flow(flow, {"n": 1})

    result = await api.cancel_run(run_id, reason="bad input")

    assert isinstance(result, CancelResult)
    assert (result.run_id, result.cancelled, result.status) == (run_id, True, "failed")
    run = await api.get_run_with_states(run_id)
    assert (run.status, run.cancelled, run.cancel_reason, run.cancelled_at) == (
        "failed", True, "bad input", result.cancelled_at)
    assert run.finished and run.failed_at == run.cancelled_at
    assert {t.status for s in run.step_states for t in s.tasks} == {"cancelled"}
    plain = await api.get_run(run_id)
    assert (plain.cancelled, plain.cancel_reason) == (True, "bad input")
    assert [r.cancel_reason for r in await api.list_runs(flow=flow)] == ["bad input"]


async def test_cancelling_twice_or_a_finished_run_changes_nothing(api: Api, db_url: str) -> None:
    flow = two_step_flow()
    await api.compile(flow)
    done = await api.start_flow(flow, {"n": 1})
    sim.drain(db_url, flow)
    running = await api.start_flow(flow, {"n": 2})
    first = await api.cancel_run(running)

    again = await api.cancel_run(running, reason="again")
    finished = await api.cancel_run(done)

    assert (again.cancelled, again.status, again.cancelled_at) == (False, "failed", first.cancelled_at)
    assert (finished.cancelled, finished.status, finished.cancelled_at) == (False, "completed", None)
    assert (await api.get_run(running)).cancel_reason is None
    assert not (await api.get_run(done)).cancelled


async def test_an_unknown_run_is_run_not_found_and_a_bad_reason_is_refused(api: Api) -> None:
    with pytest.raises(pgflow.RunNotFound):
        await api.cancel_run(uuid.uuid4())
    with pytest.raises(pgflow.InvalidInput, match="reason"):
        await api.cancel_run(uuid.uuid4(), reason=42)
