"""client.cancel_runs / retry_runs / resume_runs: the filters of list_runs, dry runs, batches,
"nothing to do", and the lineage they leave (retry_kind, retried_by)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import pytest

import pgflow

from . import sim
from .conftest import Api, failing_flow, two_step_flow


async def test_cancel_runs_cancels_what_the_filter_matches_in_batches(api: Api) -> None:
    flow, other = two_step_flow(), two_step_flow()
    await api.compile(flow)
    await api.compile(other)
    mine = [await api.start_flow(flow, {"n": n, "tenant": "a" if n % 2 else "b"}) for n in range(5)]
    untouched = await api.start_flow(other, {"n": 1, "tenant": "a"})

    dry = await api.cancel_runs(flow, input_match={"tenant": "a"}, dry_run=True)
    assert (dry.dry_run, set(dry.run_ids)) == (True, {mine[1], mine[3]})
    assert {r.status for r in await api.list_runs(flow=flow)} == {"started"}

    done = await api.cancel_runs(flow=flow.slug, reason="tenant a off", batch_size=1)

    assert set(done.run_ids) == set(mine) and done.count == 5 and done.not_done == ()
    assert list(done.run_ids) == [r.run_id for r in await api.list_runs(flow=flow)]  # newest first
    for run_id in mine:
        run = await api.get_run(run_id)
        assert (run.status, run.cancel_reason) == ("failed", "tenant a off")
    assert (await api.get_run(untouched)).status == "started"


async def test_a_filter_that_matches_nothing_is_nothing_to_do(api: Api) -> None:
    flow = two_step_flow()
    await api.compile(flow)
    await api.start_flow(flow, {"n": 1})

    for result in (await api.cancel_runs(flow, input_match={"n": 99}), await api.retry_runs(flow),
                   await api.resume_runs(flow, dry_run=True)):
        assert result.nothing_to_do and result.run_ids == () and result.new_run_ids == ()


async def test_retry_runs_retries_failed_runs_once_and_records_the_lineage(api: Api, db_url: str) -> None:
    flow = failing_flow()
    await api.compile(flow)
    failed = [await api.start_flow(flow, {"order": n}) for n in range(3)]
    sim.drain(db_url, flow)

    first = await api.retry_runs(flow, status="failed", batch_size=2)

    assert set(first.run_ids) == set(failed) and len(set(first.new_run_ids)) == 3
    for original, new in zip(first.run_ids, first.new_run_ids):
        run = await api.get_run(new)
        assert (run.retry_of, run.retry_kind, run.input) == (original, "retry", {"order": failed.index(original)})
        assert (await api.get_run_with_states(original)).retried_by == (new,)
    sim.drain(db_url, flow)  # the retries fail too
    second = await api.retry_runs(flow)
    assert set(second.run_ids) == set(first.new_run_ids)  # the originals were retried already
    assert (await api.retry_runs(flow, again=True, dry_run=True)).count == 6


async def test_resume_runs_reuses_completed_steps(api: Api, db_url: str) -> None:
    flow = two_step_flow()
    await api.compile(flow)
    original = await api.start_flow(flow, {"n": 3})
    with psycopg.connect(db_url, autocommit=True) as conn:
        worker = sim.register_worker(conn, flow.slug)
        [double] = sim.claim(conn, flow.slug, worker)
        sim.complete(conn, double, 6)
        [add_one] = sim.claim(conn, flow.slug, worker)
        sim.fail(conn, add_one, "boom")

    result = await api.resume_runs(flow, since=timedelta(hours=1))

    assert result.run_ids == (original,)
    assert sim.drain(db_url, flow) == 1
    run = await api.get_run(result.new_run_ids[0])
    assert (run.status, run.output, run.retry_kind) == ("completed", {"add_one": 7}, "resume")


async def test_list_runs_takes_the_same_time_and_input_filters(api: Api) -> None:
    flow = two_step_flow()
    await api.compile(flow)
    run_id = await api.start_flow(flow, {"n": 1, "who": "x"})
    later = datetime.now(timezone.utc) + timedelta(hours=1)

    assert [r.run_id for r in await api.list_runs(flow, input_match={"who": "x"}, until=later)] == [run_id]
    assert await api.list_runs(flow, since=later - timedelta(minutes=1)) == []


async def test_bad_filters_are_refused_before_anything_changes(api: Api) -> None:
    flow = two_step_flow()
    await api.compile(flow)
    run_id = await api.start_flow(flow, {"n": 1})

    with pytest.raises(pgflow.InvalidInput, match="cancel_runs acts on started runs only"):
        await api.cancel_runs(flow, status="failed")
    with pytest.raises(pgflow.InvalidInput, match="retry_runs acts on failed runs only"):
        await api.retry_runs(flow, status="running")
    with pytest.raises(pgflow.InvalidInput, match="no time zone"):
        await api.cancel_runs(flow, since=datetime(2026, 1, 1))
    with pytest.raises(pgflow.InvalidInput, match="time range is empty"):
        await api.cancel_runs(flow, since=timedelta(hours=1), until=timedelta(hours=2))
    with pytest.raises(pgflow.InvalidInput, match="batch_size"):
        await api.cancel_runs(flow, batch_size=0)
    assert (await api.get_run(run_id)).status == "started"


async def test_each_action_emits_a_telemetry_event(api: Api, db_url: str) -> None:
    from pgflow import telemetry

    seen: list[tuple[str, dict, dict]] = []
    telemetry.attach("test-run-control", ["run.cancel", "run.retry", "run.resume", "runs.bulk"],
                     lambda event, ms, md: seen.append((event, ms, md)))
    try:
        flow = two_step_flow()
        await api.compile(flow)
        first = await api.start_flow(flow, {"n": 1})
        await api.start_flow(flow, {"n": 2})
        await api.cancel_run(first, reason="why")
        retried = await api.retry_run(first)
        resumed = await api.resume_run(first)
        await api.cancel_runs(flow, dry_run=True)
    finally:
        telemetry.detach("test-run-control")

    assert [e for e, _, _ in seen] == ["run.cancel", "run.retry", "run.resume", "runs.bulk"]
    assert seen[0][2] == {"run_id": first, "cancelled": True, "status": "failed", "reason": "why"}
    assert (seen[1][2]["new_run_id"], seen[2][2]["new_run_id"]) == (retried, resumed)
    bulk_ms, bulk_md = seen[3][1], seen[3][2]
    assert bulk_ms == {"count": 3, "not_done": 0}  # second, and the retry and the resume, all running
    assert (bulk_md["action"], bulk_md["dry_run"], bulk_md["filter"]["flow_slug"]) == ("cancel", True, flow.slug)
