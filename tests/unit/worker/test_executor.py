"""One handler call: inputs, outputs as JSON, error texts, timeouts, threads."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest

import pgflow
from pgflow.context import Context
from pgflow.worker.executor import (
    ClaimedTask,
    HandlerCall,
    Outcome,
    TimeoutGroup,
    describe_error,
    encode_output,
    execute,
)
from pgflow.worker.threads import ThreadRunner
from tests.helpers import eventually_async


def claimed(step_slug: str = "s", input=None, flow_input=None) -> ClaimedTask:
    return ClaimedTask("f", uuid.uuid4(), step_slug, input, 1, 0, flow_input)


def ctx() -> Context:
    return Context(run_id=uuid.uuid4(), flow_slug="f", step_slug="s", _flow_input={"x": 1})


@pytest.mark.parametrize("value", [0, False, "", [], {}, None, 1.5, {"a": [1, "b"]}])
def test_json_values_are_encoded_as_they_are(value):
    assert encode_output("s", value) in ("0", "false", '""', "[]", "{}", "null", "1.5", '{"a":[1,"b"]}')


@pytest.mark.parametrize("value", [{1, 2}, float("nan"), object(), b"bytes"])
def test_values_json_cannot_hold_are_refused_with_a_hint(value):
    with pytest.raises(pgflow.NonSerializableOutput, match="not JSON-serialisable"):
        encode_output("s", value)


def test_an_error_is_described_by_type_message_and_the_last_frames():
    def inner():
        raise ValueError("bad value")

    try:
        inner()
    except ValueError as exc:
        text = describe_error(exc)
    assert text.splitlines()[0] == "ValueError: bad value"
    assert "Traceback" in text and "in inner" in text
    long = describe_error(RuntimeError("x" * 10_000))
    assert len(long) <= 4000 and long.endswith("(truncated)")


def step_of(handler, **options) -> pgflow.StepDefinition:
    flow = pgflow.Flow("f")
    return flow.add_step("s", handler, **options)


async def test_root_single_steps_get_the_flow_input_and_others_their_task_input():
    root = step_of(lambda input: input)
    assert (await execute(root, claimed(input={}, flow_input={"x": 1}), ctx(), 5, None)).output_json == '{"x":1}'
    flow = pgflow.Flow("g")
    flow.add_step("a", lambda input: 1)
    dependent = flow.add_step("b", lambda deps: deps, depends_on=["a"])
    outcome = await execute(dependent, claimed("b", input={"a": 1}), ctx(), 5, None)
    assert outcome.output_json == '{"a":1}'


async def test_a_timed_out_async_handler_is_cancelled():
    cancelled = asyncio.Event()

    async def handler(input):
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    outcome = await execute(step_of(handler), claimed(flow_input={}), ctx(), 0.05, None)
    assert outcome.kind == "timeout" and "timed out after 0.05 s" in outcome.error
    await asyncio.wait_for(cancelled.wait(), 1)


async def test_a_handler_raising_timeout_error_itself_is_an_ordinary_error():
    def handler(input):
        raise TimeoutError("the API timed out")

    outcome = await execute(step_of(handler), claimed(flow_input={}), ctx(), 5, None)
    assert outcome.kind == "error" and outcome.error.startswith("TimeoutError: the API timed out")


async def test_sync_handlers_run_in_threads_started_on_demand():
    runner = ThreadRunner(idle_timeout=0.2)
    release = threading.Event()
    seen: set[int] = set()

    def handler(input):
        seen.add(threading.get_ident())
        release.wait(5)
        return input

    step = step_of(handler)
    running = [asyncio.ensure_future(execute(step, claimed(flow_input=i), ctx(), 5, runner)) for i in range(4)]

    async def all_four_running() -> bool:  # none waits behind another
        return len(seen) == 4 and runner.threads == 4

    await eventually_async(all_four_running, timeout=5, message="each blocked handler runs in its own thread")
    release.set()
    outcomes = await asyncio.gather(*running)
    assert [o.output_json for o in outcomes] == ["0", "1", "2", "3"]
    assert threading.get_ident() not in seen
    runner.close()


async def test_an_abandoned_sync_handler_does_not_hold_back_the_next_one():
    runner = ThreadRunner()
    stuck = threading.Event()

    def slow(input):
        stuck.wait(5)
        return "late"

    outcome = await execute(step_of(slow), claimed(flow_input={}), ctx(), 0.05, runner)
    assert outcome.kind == "timeout"
    fast = await execute(step_of(lambda input: "fast"), claimed(flow_input={}), ctx(), 1, runner)
    assert fast.output_json == '"fast"'
    stuck.set()
    runner.close()


def test_nul_characters_which_postgresql_cannot_store_are_refused_or_escaped():
    with pytest.raises(pgflow.NonSerializableOutput, match="NUL"):
        encode_output("s", {"text": "a\x00b"})
    assert encode_output("s", "a literal \\u0000") == '"a literal \\\\u0000"'
    assert "\x00" not in describe_error(ValueError("bad\x00byte"))


async def test_a_sync_handler_returning_an_awaitable_is_awaited_in_the_thread_runner_too():
    async def later(value):
        await asyncio.sleep(0)
        return value + 1

    runner = ThreadRunner()
    outcome = await execute(step_of(lambda input: later(input)), claimed(flow_input=1), ctx(), 5, runner)
    runner.close()
    assert outcome.kind == "completed" and outcome.output_json == "2"


async def test_a_handler_raising_cancelled_error_itself_fails_its_task():
    async def handler(input):
        raise asyncio.CancelledError("gave up")

    outcome = await execute(step_of(handler), claimed(flow_input={}), ctx(), 5, None)
    assert outcome.kind == "error" and outcome.error.startswith("CancelledError: gave up")


async def test_a_cancelled_call_ends_once_without_an_outcome_and_cancels_its_handler():
    stopped = asyncio.Event()
    ended: list[Outcome | None] = []

    async def handler(input):
        try:
            await asyncio.sleep(10)
        finally:
            stopped.set()

    call = HandlerCall(step_of(handler), claimed(flow_input={}), 5, lambda c, o: ended.append(o))
    call.start(ctx(), None)
    await asyncio.sleep(0)
    call.cancel()
    call.cancel()
    await asyncio.wait_for(stopped.wait(), 1)
    assert ended == [None] and call.over


async def test_a_handler_that_ignores_its_cancellation_still_times_out_on_time():
    release = asyncio.Event()

    async def stubborn(input):
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue  # swallows the cancellation
        return "late"

    outcome = await execute(step_of(stubborn), claimed(flow_input={}), ctx(), 0.05, None)
    release.set()
    assert outcome.kind == "timeout"


async def test_calls_sharing_a_timeout_group_time_out_alone_when_the_others_have_ended():
    release = asyncio.Event()
    ended: dict[str, Outcome | None] = {}

    async def quick(input):
        return "quick"

    async def slow(input):
        await release.wait()
        return "slow"

    calls = [HandlerCall(step_of(handler), claimed(flow_input={}), 0.05,
                         lambda c, o, name=name: ended.__setitem__(name, o))
             for name, handler in (("quick", quick), ("slow", slow))]
    for call in calls:
        call.start(ctx(), None, timer=False)
    TimeoutGroup(calls)

    async def both_ended() -> bool:
        return len(ended) == 2

    await eventually_async(both_ended, timeout=5, message="the slow call times out")
    release.set()
    assert ended["quick"].kind == "completed" and ended["slow"].kind == "timeout"
