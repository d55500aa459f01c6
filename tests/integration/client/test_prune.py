"""prune: finished runs older than the retention go, running runs and recent ones stay."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest

import pgflow

from . import sim
from .conftest import Api, two_step_flow


def age_runs(db_url: str, run_ids: list[Any], days: int) -> None:
    """Pretend the runs (and their steps and tasks) happened ``days`` ago."""
    with psycopg.connect(db_url) as conn:
        shift = timedelta(days=days)
        conn.execute(
            "UPDATE pgflow.runs SET started_at = started_at - %(s)s, completed_at = completed_at - %(s)s,"
            " failed_at = failed_at - %(s)s WHERE run_id = ANY(%(ids)s)", {"s": shift, "ids": run_ids})
        conn.execute(
            "UPDATE pgflow.step_states SET created_at = created_at - %(s)s, started_at = started_at - %(s)s,"
            " completed_at = completed_at - %(s)s WHERE run_id = ANY(%(ids)s)", {"s": shift, "ids": run_ids})


async def test_prune_deletes_old_finished_runs_only(api: Api, db_url: str) -> None:
    flow, other = two_step_flow(), two_step_flow()
    await api.compile(flow)
    await api.compile(other)
    old_done = await api.start_flow(flow, {"n": 1})
    recent_done = await api.start_flow(flow, {"n": 2})
    other_done = await api.start_flow(other, {"n": 1})
    sim.drain(db_url, flow)
    sim.drain(db_url, other)
    old_running = await api.start_flow(flow, {"n": 3})  # no worker: stays started
    age_runs(db_url, [old_done, other_done, old_running], days=10)

    counts = await api.prune(older_than=timedelta(days=7), flows=[flow])
    assert counts["runs"] == 1 and counts["step_states"] == 2 and counts["step_tasks"] == 2
    with pytest.raises(pgflow.RunNotFound):
        await api.get_run(old_done)
    for kept in (recent_done, old_running, other_done):
        await api.get_run(kept)

    assert (await api.prune(older_than=timedelta(days=7)))["runs"] == 1  # now `other` too
    with pytest.raises(pgflow.RunNotFound):
        await api.get_run(other_done)
    assert (await api.get_run(old_running)).status == "started"


async def test_prune_checks_its_arguments(api: Api) -> None:
    with pytest.raises(pgflow.InvalidInput, match="timedelta"):
        await api.prune(older_than=7)
    with pytest.raises(pgflow.InvalidInput):
        await api.prune(older_than=timedelta(days=-1))
    assert (await api.prune(older_than=timedelta(0)))["runs"] == 0


async def test_prune_in_batches_deletes_what_one_call_would(api: Api, db_url: str) -> None:
    flow = two_step_flow()
    await api.compile(flow)
    runs = [await api.start_flow(flow, {"n": n}) for n in range(5)]
    sim.drain(db_url, flow)
    age_runs(db_url, runs, days=10)
    counts = await api.prune(older_than=timedelta(days=7), batch_size=2)  # three calls of 2, 2 and 1 runs
    assert (counts["runs"], counts["step_states"], counts["step_tasks"]) == (5, 10, 10)
    for run_id in runs:
        with pytest.raises(pgflow.RunNotFound):
            await api.get_run(run_id)
