"""LiveRun against real runs: it ends exactly in the database's final state, whatever the order."""

from __future__ import annotations

import asyncio
import dataclasses
import random

import psycopg
import pytest

import pgflow
from pgflow.errors import RunFailed, RunTimeout
from pgflow.live import EventHub, LiveRun, apply_event
from tests.live.driver import SqlDriver
from tests.live.flows import failing, large, maps
from tests.live.scenarios import SCENARIOS, differences, record_until_finished, without_untracked


async def drive(how: str, db_url: str, flow, live: LiveRun) -> None:
    """Run the flow's tasks: with the engine's SQL calls one by one, or with a real Worker."""
    if how == "sql":
        async with SqlDriver(db_url, flow) as driver:
            await driver.drain()
        return
    async with pgflow.Worker(db_url, [flow], max_concurrency=4, shutdown_timeout=5):
        await live.wait_until(lambda run: run.finished, timeout=30)


@pytest.mark.parametrize("how", ["sql", "worker"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_live_run_ends_in_the_database_state_whatever_the_event_order(client, db_url, scenario, how):
    flow, flow_input, outcome = SCENARIOS[scenario]
    async with EventHub(db_url) as recorder_hub:
        recorder = await recorder_hub.subscribe_all(tasks=True)
        run_id = await client.start_flow(flow, flow_input)
        async with await LiveRun.open(client, run_id) as live:
            initial = live.run
            await drive(how, db_url, flow, live)
            final = await live.wait_for("finished", timeout=10)
            in_db = await client.get_run_with_states(run_id)
            assert final.status == outcome
            assert differences(dataclasses.asdict(final), dataclasses.asdict(in_db)) == []

            events = await record_until_finished(recorder, run_id)
            shuffled = events * 2
            random.Random(scenario).shuffle(shuffled)
            for event in shuffled:  # every event again, twice, out of order: nothing moves
                live.apply(event)
            assert differences(dataclasses.asdict(live.run), dataclasses.asdict(in_db)) == []

            replayed = initial  # from the first snapshot, with only the shuffled events
            for event in shuffled:
                replayed = apply_event(replayed, event)
            assert differences(without_untracked(replayed), without_untracked(in_db)) == []


async def test_a_live_run_opened_after_the_run_began_catches_up(client, db_url):
    run_id = await client.start_flow(maps, {"items": [1, 2, 3]})
    async with SqlDriver(db_url, maps) as driver:
        await driver.step()  # split completed, the map's tasks queued
        live = await LiveRun.open(client, run_id)
        assert live.step("split").status == "completed" and live.step("double").status == "started"
        await driver.drain()
    run = await live.wait_for("completed", timeout=10)
    assert run == await client.get_run_with_states(run_id)
    assert run.output == {"total": 12}
    await live.close()


async def test_a_live_run_of_a_finished_run_is_finished_at_once(client, db_url):
    run_id = await client.start_flow(failing, {"n": 2})
    async with SqlDriver(db_url, failing) as driver:
        await driver.drain()
    async with await LiveRun.open(client, run_id) as live:
        assert live.finished
        changes = [change async for change in live]
        assert [c.kind for c in changes] == ["finished"]
        assert changes[0].event.failed_steps == ("b",)
        with pytest.raises(RunFailed, match="b cannot handle n=2"):
            await live.wait_for("completed", timeout=1)


async def test_iteration_and_callbacks_see_every_change_then_the_finish(client, db_url):
    run_id = await client.start_flow(failing, {"n": 3})
    seen = []
    async with await LiveRun.open(client, run_id, on_change=seen.append) as live:
        changes = []

        async def follow():
            async for change in live:
                changes.append(change)

        follower = asyncio.ensure_future(follow())
        await asyncio.sleep(0)
        async with SqlDriver(db_url, failing) as driver:
            await driver.drain()
        await asyncio.wait_for(follower, 10)
    assert changes[0].kind == "snapshot" and changes[-1].kind == "finished"
    finished = changes[-1].event
    assert (finished.outcome, finished.failed_steps) == ("failed", ("b",))
    assert finished.error_message == "b cannot handle n=3"
    statuses = [(c.event.event_type, getattr(c.event, "step_slug", None)) for c in changes if c.kind == "event"]
    assert ("step:completed", "a") in statuses and ("run:failed", None) in statuses
    assert [c.kind for c in seen][-1] == "finished" and len(seen) >= len(changes) - 1


async def test_wait_for_times_out_with_the_last_state(client):
    run_id = await client.start_flow(maps, {"items": [1]})
    async with await LiveRun.open(client, run_id) as live:
        with pytest.raises(RunTimeout) as caught:
            await live.wait_for("completed", timeout=0.2)
        assert caught.value.run.status == "started"


async def test_a_dropped_listen_connection_recovers_and_resyncs(client, db_url):
    run_id = await client.start_flow(maps, {"items": [1, 2, 3]})
    async with EventHub(db_url, reconnect_delay=0.5) as hub:
        async with await LiveRun.open(client, run_id, hub=hub) as live:
            kinds = []
            live.on_change(lambda change: kinds.append(change.kind))
            with psycopg.connect(db_url, autocommit=True) as conn:
                conn.execute("SELECT pg_terminate_backend(%s)", (hub.backend_pid,))
            async with SqlDriver(db_url, maps) as driver:  # while the hub is away
                await driver.drain()
            run = await live.wait_for("completed", timeout=15)
            assert hub.reconnects == 1
            assert "resync" in kinds
            assert run == await client.get_run_with_states(run_id)


async def test_a_blocking_client_works_too(db_url, client):
    run_id = await client.start_flow(maps, {"items": [1]})
    with pgflow.Client(db_url) as blocking:
        async with await LiveRun.open(blocking, run_id) as live:
            async with SqlDriver(db_url, maps) as driver:
                await driver.drain()
            run = await live.wait_for("completed", timeout=10)
        assert run == await asyncio.to_thread(blocking.get_run_with_states, run_id)


async def test_an_event_whose_output_was_truncated_is_completed_from_the_database(client, db_url):
    run_id = await client.start_flow(large, {})
    async with await LiveRun.open(client, run_id) as live:
        kinds = []
        live.on_change(lambda change: kinds.append((change.kind, getattr(change.event, "truncated", ()))))
        async with SqlDriver(db_url, large) as driver:
            await driver.step()  # only "big": its step:completed cannot carry the 10 kB output
            await live.wait_until(lambda run: run.step("big").output is not None, timeout=10)
            assert live.step("big").output == "x" * 10_000 and live.status == "started"
            assert ("event", ("output",)) in kinds and ("resync", ()) in kinds
            await driver.drain()
        assert await live.wait_for("completed", timeout=10) == await client.get_run_with_states(run_id)
