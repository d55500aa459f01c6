"""client.pause_flow / resume_flow / set_limits / get_flow_control, and the limits a flow's code
declares (compile): what a user does with flow control, through both clients."""

from __future__ import annotations

import psycopg
import pytest

import pgflow
from pgflow.errors import InvalidInput
from pgflow.models import FlowControl

from .conftest import Api, two_step_flow


async def test_pause_and_resume_persist_and_say_so(api: Api) -> None:
    flow = two_step_flow()
    await api.compile(flow)

    paused = await api.pause_flow(flow, reason="incident 42")
    assert isinstance(paused, FlowControl)
    assert (paused.paused, paused.pause_reason) == (True, "incident 42")
    assert (await api.get_flow_control(flow.slug)).paused_at == paused.paused_at

    resumed = await api.resume_flow(flow.slug)
    assert (resumed.paused, resumed.paused_at, resumed.pause_reason) == (False, None, None)


async def test_set_limits_merges_and_none_removes(api: Api) -> None:
    flow = two_step_flow()
    await api.compile(flow)

    state = await api.set_limits(flow, max_running=5, steps={"double": 1})
    assert (state.max_running, state.step_limits) == (5, {"double": 1})
    state = await api.set_limits(flow, steps={"add_one": 2})
    assert (state.max_running, state.step_limits) == (5, {"double": 1, "add_one": 2})
    state = await api.set_limits(flow, max_running=None, steps={"double": None})
    assert state.limits == {"steps": {"add_one": {"max_running": 2}}}


async def test_get_flow_control_counts_running_and_queued_tasks(api: Api) -> None:
    flow = two_step_flow()
    await api.compile(flow)
    for n in range(3):
        await api.start_flow(flow, {"n": n})
    state = await api.get_flow_control(flow)
    assert (state.running, state.queued, state.max_running, state.paused) == (0, 3, None, False)


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"max_running": 0}, "max_running of flow '{slug}' must be a whole number of at least 1"),
    ({"max_running": -1}, "max_running of flow '{slug}' must be a whole number of at least 1"),
    ({"max_running": True}, "max_running of flow '{slug}'"),
    ({"steps": {"double": 0}}, "max_running of step 'double' of flow '{slug}'"),
    ({"steps": {"nope": 1}}, "flow '{slug}' has no step 'nope'"),
])
async def test_bad_limits_raise_invalid_input_naming_the_option_and_the_flow(api: Api, kwargs: dict, words: str) -> None:
    flow = two_step_flow()
    await api.compile(flow)
    with pytest.raises(pgflow.InvalidInput, match=words.format(slug=flow.slug)):
        await api.set_limits(flow, **kwargs)
    assert (await api.get_flow_control(flow)).limits == {}


@pytest.mark.parametrize("method", ["pause_flow", "resume_flow", "get_flow_control"])
async def test_an_unknown_flow_is_flow_not_found(api: Api, method: str) -> None:
    with pytest.raises(pgflow.FlowNotFound, match="nope"):
        await getattr(api, method)("nope")
    with pytest.raises(pgflow.FlowNotFound, match="nope"):
        await api.set_limits("nope", max_running=1)


async def test_code_limits_apply_at_compile_and_a_runtime_change_lasts_until_the_code_changes(api: Api) -> None:
    def define(max_running: int) -> pgflow.Flow:
        flow = pgflow.Flow("limited_import", max_running=max_running)

        @flow.step(max_running=1)
        def fetch(input):
            return input

        return flow

    await api.compile(define(3))
    assert (await api.get_flow_control("limited_import")).limits == {
        "max_running": 3, "steps": {"fetch": {"max_running": 1}}}
    await api.set_limits("limited_import", max_running=10)
    await api.compile(define(3))  # the same code deployed again: the runtime change stays
    assert (await api.get_flow_control("limited_import")).max_running == 10
    await api.compile(define(4))  # changed code wins, with no recompile (limits are not in the shape)
    assert (await api.get_flow_control("limited_import")).max_running == 4


async def test_a_priority_is_stored_on_the_run_and_checked(api: Api, db_url: str) -> None:
    flow = two_step_flow()
    await api.compile(flow)
    run_id = await api.start_flow(flow, {"n": 1}, priority=7)
    job_run = await api.enqueue(flow, {"n": 2}, priority=3)
    with psycopg.connect(db_url) as conn:
        stored = dict(conn.execute("SELECT run_id, priority FROM pgflow.runs").fetchall())
    assert (stored[run_id], stored[job_run]) == (7, 3)
    assert (await api.get_run(run_id)).priority == 7
    for bad in (-1, 1001, 2.5, True):
        with pytest.raises(pgflow.InvalidInput, match="priority must be a whole number from 0"):
            await api.start_flow(flow, {"n": 1}, priority=bad)


async def test_get_run_says_when_flow_control_holds_a_run_back(api: Api, db_url: str) -> None:
    flow = two_step_flow()
    await api.compile(flow)
    run_id = await api.start_flow(flow, {"n": 1})
    assert (await api.get_run(run_id)).held_by is None

    await api.pause_flow(flow, reason="incident 9")
    assert (await api.get_run(run_id)).held_by == "paused: incident 9"
    assert (await api.get_run_with_states(run_id)).held_by == "paused: incident 9"

    await api.resume_flow(flow)
    await api.set_limits(flow, max_running=1)
    with psycopg.connect(db_url) as conn:  # another run's task holds the only slot
        other = conn.execute("SELECT run_id FROM pgflow.start_flow(%s, '{\"n\": 2}')", (flow.slug,)).fetchone()[0]
        conn.execute("UPDATE pgflow.step_tasks SET status = 'started', started_at = now() WHERE run_id = %s", (other,))
    assert (await api.get_run(run_id)).held_by == "concurrency limit: flow max_running 1 (1 running)"
    await api.set_limits(flow, max_running=None, steps={"double": 1})
    assert (await api.get_run(run_id)).held_by == "concurrency limit: step double max_running 1 (1 running)"
    await api.set_limits(flow, steps={"double": 2})
    assert (await api.get_run(run_id)).held_by is None
    await api.set_limits(flow, rate_limit=(1, 3600))
    with psycopg.connect(db_url) as conn:  # the rate's next start is an hour away
        conn.execute("INSERT INTO pgflow.flow_rate_state VALUES (%s, '', now() + interval '1 hour')", (flow.slug,))
    assert (await api.get_run(run_id)).held_by == "rate limit: flow 1 per 3600 s"


async def test_rate_limits_from_code_and_at_runtime(api: Api) -> None:
    job = pgflow.Job("rated_job", rate_limit=(20, 1.0))

    @job.perform
    def call_api(input):
        return input

    await api.compile(job)
    assert (await api.get_flow_control(job)).rate_limit == (20, 1.0)
    state = await api.set_limits(job, rate_limit=(5, 60), steps={"rated_job": {"rate_limit": (1, 2.5)}})
    assert (state.rate_limit, state.step_rate_limits) == ((5, 60.0), {"rated_job": (1, 2.5)})
    with pytest.raises(pgflow.InvalidInput, match="rate_limit of flow 'rated_job' must be"):
        await api.set_limits(job, rate_limit=(10, 0))
    with pytest.raises(pgflow.InvalidInput, match=r"rate_limit of flow 'rated_job' must be \(count, seconds\)"):
        await api.set_limits(job, rate_limit=10)
    state = await api.set_limits(job, rate_limit=None, steps={"rated_job": None})
    assert state.limits == {}


async def test_per_key_limits_from_code_and_at_runtime_and_a_function_key_on_the_run(api: Api, db_url: str) -> None:
    keyed = pgflow.Job(f"keyed_{id(api)}", concurrency_key=lambda input: input["account"].upper(),
                       max_running_per_key=2)

    @keyed.perform
    def work(input):
        return None

    await api.compile(keyed)
    state = await api.get_flow_control(keyed)
    assert (state.max_running_per_key, state.concurrency_key, state.running_by_key) == (2, None, {})

    by_object = await api.start_flow(keyed, {"account": "acme"})
    by_slug = await api.start_flow(keyed.slug, {"account": "acme"})  # no function here: the no-key group
    with psycopg.connect(db_url) as conn:
        keys = dict(conn.execute("SELECT run_id, concurrency_key FROM pgflow.runs WHERE run_id = ANY(%s)",
                                 ([by_object, by_slug],)).fetchall())
    assert (keys[by_object], keys[by_slug]) == ("ACME", "")
    assert ((await api.get_run(by_object)).concurrency_key, (await api.get_run_with_states(by_slug)).concurrency_key,
            {r.run_id: r.concurrency_key for r in await api.list_runs(keyed.slug)}) == (
        "ACME", "", {by_object: "ACME", by_slug: ""})
    with pytest.raises(InvalidInput, match=f"concurrency_key of flow '{keyed.slug}' raised KeyError"):
        await api.start_flow(keyed, {"no_account": 1})

    state = await api.set_limits(keyed, max_running_per_key=5, concurrency_key="account")
    assert state.limits == {"concurrency_key": "account", "max_running_per_key": 5}
    with pytest.raises(InvalidInput, match=f"max_running_per_key of flow '{keyed.slug}' must be"):
        await api.set_limits(keyed, max_running_per_key=0)
    state = await api.set_limits(keyed, rate_limit_per_key=(3, 60))
    assert (state.rate_limit_per_key, state.limits["rate_limit_per_key"]) == ((3, 60.0), {"count": 3, "per": 60})
    with pytest.raises(InvalidInput, match=f"rate_limit_per_key of flow '{keyed.slug}' must be"):
        await api.set_limits(keyed, rate_limit_per_key=(3, 0))
    state = await api.set_limits(keyed, max_running_per_key=None, concurrency_key=None, rate_limit_per_key=None)
    assert state.limits == {}
