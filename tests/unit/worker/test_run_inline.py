"""pgflow.testing.run_inline: a flow in-process, with pgflow's semantics, no database."""

from __future__ import annotations

import asyncio

import pytest

import pgflow
from pgflow.testing import contains, run_inline, run_inline_async


def order_flow() -> pgflow.Flow:
    flow = pgflow.Flow("order")

    @flow.step
    def validate(input):
        return {"items": input["items"]}

    @flow.array(depends_on=[validate])
    def lines(deps):
        return deps["validate"]["items"]

    @flow.map(array=lines)
    async def price(item, ctx):
        await asyncio.sleep(0)
        return item * 10

    @flow.step(depends_on=[validate])
    def reserve(deps, ctx):
        return {"reserved": len(deps["validate"]["items"]), "customer": ctx.flow_input["customer"]}

    @flow.step(depends_on=[price, reserve])
    def total(deps):
        return {"total": sum(deps["price"]), "reserved": deps["reserve"]["reserved"]}

    return flow


def test_steps_run_in_order_with_the_inputs_the_worker_gives():
    run = run_inline(order_flow(), {"items": [1, 2, 3], "customer": "ada"})
    assert run.status == "completed"
    assert run.output == {"total": {"total": 60, "reserved": 3}}
    assert run.step("price").output == [10, 20, 30]
    assert run.step("price").attempts == 3
    assert run.step("reserve").output == {"reserved": 3, "customer": "ada"}


def test_outputs_pass_through_json_as_they_would_through_the_database():
    flow = pgflow.Flow("jsonish")

    @flow.step
    def make(input):
        return {"pair": (1, 2), 3: "three"}

    @flow.step(depends_on=[make])
    def read(deps):
        return deps["make"]

    assert run_inline(flow, {}).output == {"read": {"pair": [1, 2], "3": "three"}}


def test_a_map_over_an_empty_array_completes_with_an_empty_list():
    flow = pgflow.Flow("empty")

    @flow.map
    def each(item):
        raise AssertionError("not called")

    assert run_inline(flow, []).output == {"each": []}


def test_a_root_map_needs_an_array_input():
    flow = pgflow.Flow("needs_array")
    flow.map(lambda item: item, slug="each")
    with pytest.raises(pgflow.InvalidInput, match="must be a JSON array"):
        run_inline(flow, {"not": "a list"})


def test_a_step_feeding_a_map_must_return_a_list():
    flow = pgflow.Flow("violation")

    @flow.array
    def not_a_list(input):
        return {"oops": True}

    @flow.map(array=not_a_list)
    def each(item):
        return item

    run = run_inline(flow, {}, raise_on_failure=False)
    assert run.status == "failed"
    assert "TYPE_VIOLATION" in run.step("not_a_list").error_message


def test_retries_up_to_max_attempts_then_the_run_fails():
    flow = pgflow.Flow("retrying", max_attempts=3)
    calls: list[int] = []

    @flow.step
    def flaky(input, ctx):
        calls.append(ctx.attempt)
        raise RuntimeError(f"try {ctx.attempt}")

    with pytest.raises(pgflow.RunFailed) as raised:
        run_inline(flow, {})
    assert calls == [1, 2, 3]
    run = raised.value.run
    assert run.step("flaky").status == "failed"
    assert run.step("flaky").error_message.startswith("RuntimeError: try 3")


def test_a_retry_that_succeeds_completes_the_run():
    flow = pgflow.Flow("second_time", max_attempts=2)

    @flow.step
    def flaky(input, ctx):
        if ctx.attempt == 1:
            raise RuntimeError("first")
        return "ok"

    run = run_inline(flow, {})
    assert run.output == {"flaky": "ok"} and run.step("flaky").attempts == 2


def test_when_exhausted_skip_and_skip_cascade():
    flow = pgflow.Flow("exhausted", max_attempts=1)

    @flow.step(when_exhausted="skip")
    def optional(input):
        raise RuntimeError("down")

    @flow.step(depends_on=[optional])
    def uses_optional(deps):
        return sorted(deps)

    @flow.step(when_exhausted="skip-cascade")
    def fragile(input):
        raise RuntimeError("down")

    @flow.step(depends_on=[fragile])
    def after_fragile(deps):
        raise AssertionError("skipped with its dependency")

    run = run_inline(flow, {})
    assert run.status == "completed"
    assert run.step("optional").skip_reason == "handler_failed"
    assert run.step("uses_optional").output == []  # a skipped dependency is absent from the input
    assert run.step("after_fragile").skip_reason == "dependency_skipped"
    assert run.output == {"uses_optional": []}


def test_conditions_match_like_jsonb_containment():
    flow = pgflow.Flow("conditional")
    flow.add_step("pro_only", lambda input: "pro", if_={"plan": "pro", "tags": ["beta"]})
    flow.add_step("others", lambda input: "other", if_not={"plan": "pro"})
    run = run_inline(flow, {"plan": "pro", "tags": ["x", "beta"]})
    assert run.output == {"pro_only": "pro"}
    assert run.step("others").skip_reason == "condition_unmet"


def test_an_unmet_condition_with_when_unmet_fail_fails_the_run():
    flow = pgflow.Flow("strict")
    flow.add_step("strict", lambda input: "enterprise", if_={"plan": "enterprise"}, when_unmet="fail")
    run = run_inline(flow, {"plan": "pro"}, raise_on_failure=False)
    assert run.status == "failed"
    assert run.step("strict").error_message == "Condition not met"


def test_a_map_after_a_skipped_step_completes_empty():
    flow = pgflow.Flow("skipped_parent")

    @flow.array(if_={"go": True})
    def items(input):
        return [1, 2]

    @flow.map(array=items)
    def each(item):
        return item

    run = run_inline(flow, {"go": False})
    assert run.step("items").status == "skipped"
    assert run.step("each").output == [] and run.output == {"each": []}


@pytest.mark.parametrize(("value", "pattern", "expected"), [
    ({"a": 1, "b": 2}, {"a": 1}, True),
    ({"a": 1}, {"a": 1.0}, True),
    ({"a": True}, {"a": 1}, False),
    ({"a": [1, 2, 3]}, {"a": [3, 1]}, True),
    ({"a": [1, 2]}, {"a": 1}, False),
    ({"a": {"b": {"c": 1, "d": 2}}}, {"a": {"b": {"c": 1}}}, True),
    ({"a": [{"x": 1, "y": 2}]}, {"a": [{"x": 1}]}, True),
    ({"a": None}, {"a": None}, True),
    ({}, {"a": None}, False),
])
def test_contains_follows_postgresql(value, pattern, expected):
    assert contains(value, pattern) is expected


async def test_run_inline_works_inside_an_event_loop_too():
    run = run_inline(order_flow(), {"items": [5], "customer": "bob"})
    assert run.output == {"total": {"total": 50, "reserved": 1}}
    run = await run_inline_async(order_flow(), {"items": [], "customer": "bob"})
    assert run.output == {"total": {"total": 0, "reserved": 0}}


def test_an_async_job_handler_is_awaited():
    job = pgflow.Job("slow", timeout=3, max_attempts=1)

    @job.perform
    async def handler(input):
        await asyncio.sleep(0.05)
        return "fast enough"

    assert run_inline(job, {}).output == {"slow": "fast enough"}
