"""Flows with private step queues (``pgflow.Flow(..., step_queues=True)``) on an in-process worker."""

from __future__ import annotations

import pytest

import pgflow
from tests.integration.worker.conftest import finished, rows, running


def _pipeline(slug: str) -> pgflow.Flow:
    flow = pgflow.Flow(slug, step_queues=True)

    @flow.step
    def fetch(input):
        return input["n"]

    @flow.array(depends_on=[fetch])
    def items(deps):
        return list(range(deps["fetch"]))

    @flow.map(array=items)
    def square(item):
        return item * item

    @flow.step(depends_on=[square])
    def total(deps):
        return sum(deps["square"])

    return flow


async def test_a_flow_with_step_queues_runs_each_step_from_its_own_queue(db_url, client):
    flow = _pipeline("Squares")
    async with running(db_url, [flow]):
        run = await finished(client, await client.start_flow(flow, {"n": 4}))
    assert run.status == "completed"
    assert run.output == {"total": 14}
    assert await rows(db_url, "SELECT queue_mode FROM pgflow.flows WHERE flow_slug = 'Squares'") == [
        {"queue_mode": "step"}]
    # every task went through its step's queue; the flow has no queue of its own
    tasks = await rows(db_url, "SELECT DISTINCT step_slug, queue_name FROM pgflow.step_tasks ORDER BY step_slug")
    assert tasks == [{"step_slug": s, "queue_name": f"squares__{s}"} for s in ("fetch", "items", "square", "total")]
    queues = await rows(db_url, "SELECT queue_name FROM pgmq.list_queues() ORDER BY queue_name")
    assert [q["queue_name"] for q in queues] == [f"squares__{s}" for s in ("fetch", "items", "square", "total")]


async def test_switching_a_flow_to_step_queues_is_a_routing_mismatch(db_url, client):
    plain = pgflow.Flow("switching")
    plain.add_step("only", lambda input: 1)
    await client.compile(plain)
    private = pgflow.Flow("switching", step_queues=True)
    private.add_step("only", lambda input: 1)
    with pytest.raises(pgflow.FlowShapeMismatch) as mismatch:
        await client.compile(private)
    assert any("Queue mode differs" in d for d in mismatch.value.differences), mismatch.value.differences
    result = await client.recompile(private)
    assert result["status"] == "recompiled"
    assert await rows(db_url, "SELECT step_slug, queue_name FROM pgflow.steps WHERE flow_slug = 'switching'") == [
        {"step_slug": "only", "queue_name": "switching__only"}]


async def test_drain_waits_for_every_step_queue(db_url, client):
    from pgflow.testing import drain_async

    flow = _pipeline("drained")
    await client.compile(flow)
    run_id = await client.start_flow(flow, {"n": 3})
    await drain_async(db_url, [flow], timeout=30)
    run = await client.get_run(run_id)
    assert run.status == "completed" and run.output == {"total": 5}
