"""Client methods on flow definitions, sync and async (the ``api`` fixture runs each test twice)."""

from __future__ import annotations

import psycopg
import pytest

import pgflow
from pgflow.models import FlowInfo

from .conftest import Api, echo_job, two_step_flow


async def test_compile_creates_then_verifies(api: Api) -> None:
    flow = two_step_flow()
    assert (await api.compile(flow))["status"] == "compiled"
    assert (await api.compile(flow))["status"] == "verified"
    assert await api.flow_exists(flow)
    assert await api.flow_exists(flow.slug)


async def test_compile_mismatch_lists_differences_and_the_fix(api: Api) -> None:
    await api.compile(two_step_flow("shop"))
    changed = pgflow.Flow("shop")

    @changed.step
    def only(input):
        return 1

    with pytest.raises(pgflow.FlowShapeMismatch) as caught:
        await api.compile(changed)
    err = caught.value
    assert err.flow_slug == "shop" and err.differences
    assert "allow_data_loss" in str(err) and "shop_v2" in str(err)
    assert [s.step_slug for s in (await api.get_flow("shop")).steps] == ["double", "add_one"]


async def test_compile_with_allow_data_loss_recompiles(api: Api) -> None:
    await api.compile(two_step_flow("shop"))
    run_id = await api.start_flow("shop", {"n": 1})
    changed = pgflow.Flow("shop")

    @changed.step
    def only(input):
        return 1

    result = await api.compile(changed, allow_data_loss=True)
    assert result["status"] == "recompiled" and result["differences"]
    assert [s.step_slug for s in (await api.get_flow("shop")).steps] == ["only"]
    with pytest.raises(pgflow.RunNotFound):
        await api.get_run(run_id)


async def test_compile_stores_a_job_as_job(api: Api) -> None:
    job = echo_job()
    await api.compile(job)
    info = await api.get_flow(job)
    assert info.flow_type == "job"
    assert [s.step_slug for s in info.steps] == [job.slug]
    assert info.max_attempts == 2


async def test_get_flow_has_steps_deps_and_options(api: Api) -> None:
    flow = pgflow.Flow("orders", max_attempts=4, base_delay=2, timeout=30)

    @flow.step
    def validate(input):
        return input

    @flow.array(depends_on=[validate])
    def items(deps):
        return []

    @flow.map(array=items, timeout=10)
    def pack(item):
        return item

    @flow.step(depends_on=[validate, pack], start_delay=5, if_={"vip": True}, when_unmet="skip")
    def confirm(deps):
        return True

    await api.compile(flow)
    info = await api.get_flow("orders")
    assert isinstance(info, FlowInfo)
    assert (info.flow_type, info.max_attempts, info.base_delay, info.timeout) == ("flow", 4, 2, 30)
    steps = {s.step_slug: s for s in info.steps}
    assert [s.step_slug for s in info.steps] == ["validate", "items", "pack", "confirm"]
    assert steps["pack"].step_type == "map" and steps["pack"].depends_on == ("items",)
    assert steps["pack"].timeout == 10 and steps["validate"].timeout is None
    assert steps["confirm"].depends_on == ("pack", "validate")
    assert steps["confirm"].start_delay == 5
    assert steps["confirm"].required_input_pattern == {"vip": True}
    assert info.dependents("validate") == ["items", "confirm"]


async def test_unknown_flow_raises_flow_not_found(api: Api) -> None:
    assert not await api.flow_exists("nope")
    with pytest.raises(pgflow.FlowNotFound, match="'nope'"):
        await api.get_flow("nope")
    with pytest.raises(pgflow.FlowNotFound):
        await api.delete_flow("nope")
    with pytest.raises(pgflow.FlowNotFound):
        await api.start_flow("nope", {})


async def test_list_flows(api: Api) -> None:
    assert await api.list_flows() == []
    await api.compile(two_step_flow("b_flow"))
    await api.compile(echo_job("a_job"))
    flows = await api.list_flows()
    assert [(f.flow_slug, f.flow_type, len(f.steps)) for f in flows] == [("a_job", "job", 1), ("b_flow", "flow", 2)]


async def test_delete_flow_removes_runs_tasks_and_queue(api: Api, db_url: str) -> None:
    flow = two_step_flow("doomed")
    await api.compile(flow)
    await api.start_flow(flow, {"n": 1})
    await api.delete_flow(flow)
    assert not await api.flow_exists(flow)
    with psycopg.connect(db_url) as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM pgflow.runs), (SELECT count(*) FROM pgflow.step_tasks),"
            " (SELECT count(*) FROM pgmq.list_queues() WHERE queue_name = 'doomed')"
        ).fetchone()
    assert counts == (0, 0, 0)


async def test_upsert_flow_creates_then_replaces(api: Api) -> None:
    steps = [
        {"slug": "fetch", "deps": [], "max_attempts": 2},
        {"slug": "each", "deps": ["fetch"], "step_type": "map"},
        {"slug": "report", "deps": ["each"], "timeout": 30},
    ]
    assert await api.upsert_flow("tenant_7", steps, max_attempts=5, timeout=90) == {"status": "compiled"}
    info = await api.get_flow("tenant_7")
    assert [(s.step_slug, s.step_type, s.depends_on) for s in info.steps] == [
        ("fetch", "single", ()), ("each", "map", ("fetch",)), ("report", "single", ("each",)),
    ]
    assert (info.max_attempts, info.timeout) == (5, 90)
    run_id = await api.start_flow("tenant_7", {})

    # same structure, new options: still replaced (destructive), and the options change
    assert await api.upsert_flow("tenant_7", steps, max_attempts=2) == {"status": "recompiled"}
    assert (await api.get_flow("tenant_7")).max_attempts == 2
    with pytest.raises(pgflow.RunNotFound):
        await api.get_run(run_id)


async def test_upsert_flow_validates_with_dsl_rules_and_changes_nothing(api: Api) -> None:
    await api.upsert_flow("tenant_8", [{"slug": "a"}])
    with pytest.raises(pgflow.FlowDefinitionError, match="unknown"):
        await api.upsert_flow("tenant_8", [{"slug": "a"}, {"slug": "b", "deps": ["missing"]}])
    with pytest.raises(pgflow.FlowDefinitionError):
        await api.upsert_flow("tenant_8", [{"slug": "m", "deps": [], "step_type": "map"},
                                           {"slug": "n", "deps": ["m", "a"], "step_type": "map"}])
    assert [s.step_slug for s in (await api.get_flow("tenant_8")).steps] == ["a"]


class DuckFlow:
    """Not a pgflow.Flow: anything with .slug, .flow_type and .shape() compiles."""

    flow_type = "flow"

    def __init__(self, slug: str, dependencies: list[str]) -> None:
        self.slug = slug
        self.dependencies = dependencies

    def shape(self) -> dict:
        step = {
            "slug": "only", "stepType": "single", "dependencies": self.dependencies,
            "whenUnmet": "skip", "whenExhausted": "fail",
            "requiredInputPattern": {"defined": False}, "forbiddenInputPattern": {"defined": False},
            "options": {},
        }
        return {"steps": [step], "options": {}}


async def test_duck_typed_flows_compile_and_database_rules_raise_definition_errors(api: Api) -> None:
    assert (await api.compile(DuckFlow("duck", [])))["status"] == "compiled"
    with pytest.raises(pgflow.FlowDefinitionError) as caught:  # SQLSTATE PF004 from add_step
        await api.compile(DuckFlow("ghostly", ["ghost"]))
    assert "ghost" in str(caught.value)
    assert not await api.flow_exists("ghostly")
