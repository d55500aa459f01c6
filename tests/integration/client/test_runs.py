"""Starting and reading runs, sync and async."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

import pgflow
from pgflow.models import Run

from .conftest import Api, two_step_flow


async def test_start_flow_returns_the_run_id_and_stores_the_run(api: Api) -> None:
    flow = two_step_flow()
    await api.compile(flow)
    run_id = await api.start_flow(flow, {"n": 3})
    assert isinstance(run_id, uuid.UUID)
    run = await api.get_run(run_id)
    assert isinstance(run, Run)
    assert (run.run_id, run.flow_slug, run.status, run.input) == (run_id, flow.slug, "started", {"n": 3})
    assert run.remaining_steps == 2 and isinstance(run.started_at, datetime)
    assert run.step_states == () and not run.finished


async def test_start_flow_with_a_chosen_run_id(api: Api) -> None:
    flow = two_step_flow()
    await api.compile(flow)
    chosen = uuid.uuid4()
    assert await api.start_flow(flow.slug, {"n": 1}, run_id=str(chosen)) == chosen


async def test_get_run_with_states_has_steps_in_order_with_tasks(api: Api) -> None:
    flow = two_step_flow()
    await api.compile(flow)
    run = await api.get_run_with_states(await api.start_flow(flow, {"n": 3}))
    assert [(s.step_slug, s.status) for s in run.step_states] == [("double", "started"), ("add_one", "created")]
    double = run.step("double")
    assert (double.remaining_tasks, double.initial_tasks, double.remaining_deps) == (1, 1, 0)
    assert [(t.task_index, t.status, t.attempts_count) for t in double.tasks] == [(0, "queued", 0)]
    assert run.step("add_one").depends_on == ("double",) and run.step("add_one").tasks == ()
    with pytest.raises(KeyError, match="double, add_one"):
        run.step("nope")


async def test_unknown_run_raises_run_not_found(api: Api) -> None:
    missing = uuid.uuid4()
    with pytest.raises(pgflow.RunNotFound, match=str(missing)):
        await api.get_run(missing)
    with pytest.raises(pgflow.RunNotFound):
        await api.get_run_with_states(missing)
    with pytest.raises(pgflow.InvalidInput, match="not a run id"):
        await api.get_run("not-a-uuid")


async def test_input_that_is_not_json_raises_invalid_input(api: Api) -> None:
    flow = two_step_flow()
    await api.compile(flow)
    with pytest.raises(pgflow.InvalidInput, match="not JSON-serialisable"):
        await api.start_flow(flow, {"when": datetime.now()})
    with pytest.raises(pgflow.InvalidInput, match="not JSON-serialisable"):
        await api.start_flow(flow, {"n": float("nan")})
    assert await api.list_runs(flow) == []


async def test_root_map_needs_an_array_input(api: Api) -> None:
    flow = pgflow.Flow(f"root_map_{uuid.uuid4().hex[:6]}")

    @flow.map
    def each(item):
        return item

    await api.compile(flow)
    with pytest.raises(pgflow.InvalidInput):
        await api.start_flow(flow, {"not": "a list"})
    run = await api.get_run_with_states(await api.start_flow(flow, [1, 2, 3]))
    assert run.step("each").initial_tasks == 3 and len(run.step("each").tasks) == 3


async def test_list_runs_filters_and_orders_newest_first(api: Api) -> None:
    first, second = two_step_flow(), two_step_flow()
    await api.compile(first)
    await api.compile(second)
    a = await api.start_flow(first, {"n": 1})
    b = await api.start_flow(second, {"n": 2})
    c = await api.start_flow(first, {"n": 3})
    assert [r.run_id for r in await api.list_runs()] == [c, b, a]
    assert [r.run_id for r in await api.list_runs(flow=first)] == [c, a]
    assert [r.run_id for r in await api.list_runs(flow=first.slug, limit=1)] == [c]
    assert await api.list_runs(status="completed") == []
    assert len(await api.list_runs(status="started")) == 3
    with pytest.raises(pgflow.InvalidInput, match=r"started \(or running\), completed, failed"):
        await api.list_runs(status="done")
    with pytest.raises(pgflow.InvalidInput):
        await api.list_runs(limit=0)
