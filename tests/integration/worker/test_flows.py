"""End-to-end flows on an in-process worker: branches, maps, conditions, delays, handler kinds, outputs."""

from __future__ import annotations

import asyncio
import threading

import pgflow
from tests.helpers import eventually_async
from tests.integration.worker.conftest import finished, rows, running


async def _idle(worker: pgflow.Worker) -> bool:
    return worker.poller.reads >= 1 and not worker.poller.busy


async def test_parallel_branches_run_at_the_same_time(db_url, client):
    flow = pgflow.Flow("branches")
    arrived = {"left": asyncio.Event(), "right": asyncio.Event()}

    @flow.step
    def root(input):
        return input["x"]

    async def meet(me: str, other: str) -> str:
        arrived[me].set()
        await asyncio.wait_for(arrived[other].wait(), 10)  # only returns if both run at once
        return me

    @flow.step(depends_on=[root])
    async def left(deps):
        return await meet("left", "right")

    @flow.step(depends_on=[root])
    async def right(deps):
        return await meet("right", "left")

    @flow.step(depends_on=[left, right])
    def join(deps, ctx):
        return {"got": [deps["left"], deps["right"]], "x": ctx.flow_input["x"]}

    async with running(db_url, [flow]):
        run = await finished(client, await client.start_flow(flow, {"x": 7}))
    assert run.status == "completed"
    assert run.output == {"join": {"got": ["left", "right"], "x": 7}}


async def test_a_map_of_1000_items(db_url, client):
    flow = pgflow.Flow("big_map")

    @flow.array
    def numbers(input):
        return list(range(input["n"]))

    @flow.map(array=numbers)
    def double(item):
        return item * 2

    @flow.step(depends_on=[double])
    def total(deps):
        return sum(deps["double"])

    async with running(db_url, [flow], max_concurrency=20, batch_size=20):
        run = await finished(client, await client.start_flow(flow, {"n": 1000}), timeout=90)
    assert run.status == "completed"
    assert run.output == {"total": 999 * 1000}
    assert run.step("double").output == [i * 2 for i in range(1000)]
    counts = await rows(db_url, "SELECT status, count(*) AS n, max(attempts_count) AS attempts FROM pgflow.step_tasks "
                                "WHERE step_slug = 'double' GROUP BY status")
    assert counts == [{"status": "completed", "n": 1000, "attempts": 1}]


async def test_a_map_over_an_empty_array_completes_without_tasks(db_url, client):
    flow = pgflow.Flow("empty_map")

    @flow.map
    def each(item):
        raise AssertionError("never called")

    @flow.step(depends_on=[each])
    def after(deps):
        return {"seen": deps["each"]}

    async with running(db_url, [flow]):
        run = await finished(client, await client.start_flow(flow, []))
    assert run.status == "completed"
    assert run.output == {"after": {"seen": []}}


async def test_conditional_steps_run_or_skip_by_their_input(db_url, client):
    flow = pgflow.Flow("conditions")

    @flow.step
    def classify(input):
        return {"kind": input["kind"]}

    @flow.step(depends_on=[classify], if_={"classify": {"kind": "vip"}})
    def welcome_gift(deps):
        return "gift"

    @flow.step(depends_on=[classify], if_not={"classify": {"kind": "vip"}}, when_unmet="skip-cascade")
    def upsell(deps):
        return "offer"

    @flow.step(depends_on=[upsell])
    def follow_up(deps):
        return "later"

    async with running(db_url, [flow]):
        vip = await finished(client, await client.start_flow(flow, {"kind": "vip"}))
        regular = await finished(client, await client.start_flow(flow, {"kind": "regular"}))
    assert vip.status == regular.status == "completed"
    assert vip.output == {"welcome_gift": "gift"}
    assert vip.step("upsell").skip_reason == "condition_unmet"
    assert vip.step("follow_up").skip_reason == "dependency_skipped"
    assert regular.output == {"follow_up": "later"}
    assert regular.step("welcome_gift").status == "skipped"


async def test_an_unmet_condition_with_when_unmet_fail_fails_the_run(db_url, client):
    flow = pgflow.Flow("strict")

    @flow.step(if_={"ok": True}, when_unmet="fail")
    def guarded(input):
        return 1

    async with running(db_url, [flow]):
        run = await finished(client, await client.start_flow(flow, {"ok": False}))
    assert run.status == "failed"
    assert run.step("guarded").status == "failed"


async def test_start_delay_holds_a_step_back(db_url, client):
    flow = pgflow.Flow("delayed")

    @flow.step
    def first(input):
        return 1

    @flow.step(depends_on=[first], start_delay=2)
    def later(deps):
        return deps["first"] + 1

    async with running(db_url, [flow], notify_fallback_interval=30.0):
        run = await finished(client, await client.start_flow(flow, {}))
    assert run.output == {"later": 2}
    first_done = run.step("first").completed_at
    later_task = run.step("later").tasks[0]
    assert (later_task.started_at - first_done).total_seconds() >= 2.0


async def test_sync_handlers_run_in_threads_and_async_ones_on_the_loop(db_url, client):
    flow = pgflow.Flow("mixed")
    loop_thread = threading.get_ident()
    seen: dict[str, bool] = {}

    @flow.map
    def blocking(item):
        seen[f"sync{item}"] = threading.get_ident() != loop_thread
        threading.Event().wait(0.2)  # blocks its thread, never the loop
        return item

    @flow.map(slug="awaiting")
    async def awaiting(item, ctx):
        seen[f"async{item}"] = threading.get_ident() == loop_thread
        await asyncio.sleep(0.2)
        return -item

    async with running(db_url, [flow], max_concurrency=10):
        run = await finished(client, await client.start_flow(flow, [1, 2, 3, 4]))
    assert run.output == {"blocking": [1, 2, 3, 4], "awaiting": [-1, -2, -3, -4]}
    assert all(seen.values()) and len(seen) == 8


async def test_falsy_outputs_are_kept_as_they_are(db_url, client):
    flow = pgflow.Flow("falsy")
    values = {"zero": 0, "false": False, "empty_text": "", "empty_list": [], "empty_object": {}, "null": None}

    def returning(value):
        def handler(input):
            return value
        return handler

    for slug, value in values.items():
        flow.add_step(slug, returning(value))

    async with running(db_url, [flow]):
        run = await finished(client, await client.start_flow(flow, {}))
    assert run.status == "completed"
    for slug, value in values.items():
        assert run.step(slug).output == value and type(run.step(slug).output) is type(value), slug


async def test_an_output_that_is_not_json_fails_the_task_saying_so(db_url, client):
    job = pgflow.Job("bad_output", max_attempts=1)

    @job.perform
    def handler(input):
        return {"when": {1, 2}}

    async with running(db_url, [job]):
        run = await finished(client, await client.start_flow(job, {}))
    assert run.status == "failed"
    message = run.step("bad_output").error_message
    assert "not JSON-serialisable" in message and "set" in message


async def test_polling_signal_finds_work_without_notifications(db_url, client):
    job = pgflow.Job("polled")

    @job.perform
    def handler(input):
        return input["n"] + 1

    async with running(db_url, [job], signal="polling", max_poll_interval=0.2):
        run = await finished(client, await client.start_flow(job, {"n": 1}))
    assert run.output == {"polled": 2}
    assert await rows(db_url, "SELECT queue_name FROM pgmq.notify_insert_throttle") == []


async def test_notify_wakes_an_idle_worker_long_before_its_fallback_poll(db_url, client):
    job = pgflow.Job("notified")

    @job.perform
    def handler(input):
        return "done"

    async with running(db_url, [job], notify_fallback_interval=60.0) as worker:
        await worker.listener.connected.wait()
        await eventually_async(lambda: _idle(worker), message="the worker has read once and waits")
        run = await finished(client, await client.start_flow(job, {}), timeout=10)
    assert run.output == {"notified": "done"}
