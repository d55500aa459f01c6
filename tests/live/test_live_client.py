"""LiveClient: runs tracked under keys, as a server-driven UI uses them."""

from __future__ import annotations

import json
import uuid

import pytest

import pgflow
from pgflow.errors import RunNotFound
from pgflow.live import LiveClient
from tests.live.driver import SqlDriver
from tests.live.flows import failing, maps


async def test_start_flow_tracks_the_run_under_its_key_until_it_completes(client, db_url):
    changes = []
    async with LiveClient(client, on_change=lambda key, run: changes.append((key, run and run.status))) as live:
        assert live["order_run"] is None
        run = await live.start_flow(maps, {"items": [1, 2]}, as_="order_run")
        assert run.status == "started" and live["order_run"].run_id == run.run_id
        assert "order_run" in live and live.keys() == ["order_run"]
        async with SqlDriver(db_url, maps) as driver:
            await driver.drain()
        final = await live.wait_for("completed", as_="order_run", timeout=10)
        assert live["order_run"] == final == await client.get_run_with_states(run.run_id)
        assert changes[0] == ("order_run", "started") and changes[-1] == ("order_run", "completed")
        await live.unsubscribe(as_="order_run")
        assert live["order_run"] is None and changes[-1] == ("order_run", None)


async def test_several_keys_follow_different_runs(client, db_url):
    async with LiveClient(client) as live:
        await live.start_flow(maps, {"items": [1]}, as_="order_run")
        await live.enqueue(failing, {"n": 1}, as_="email_run")
        assert live.get() is None  # the default key holds nothing
        async with SqlDriver(db_url, maps) as driver:
            await driver.drain()
        async with SqlDriver(db_url, failing) as driver:
            await driver.drain()
        await live.wait_for("completed", as_="order_run", timeout=10)
        await live.wait_for("failed", as_="email_run", timeout=10)
        assert (live["order_run"].status, live["email_run"].status) == ("completed", "failed")
        assert live["email_run"].step("b").error_message == "b cannot handle n=1"


async def test_subscribe_replaces_the_run_under_a_key_and_rejects_unknown_runs(client):
    async with LiveClient(client) as live:
        first = await client.start_flow(maps, {"items": [1]})
        second = await client.start_flow(maps, {"items": [2]})
        await live.subscribe(first)
        await live.subscribe(second)
        assert live.get().run_id == second
        with pytest.raises(RunNotFound):
            await live.subscribe(uuid.uuid4(), as_="detail")
        assert live["detail"] is None


async def test_handle_applies_events_a_framework_delivers_itself(client):
    async with LiveClient(client) as live:
        run = await live.start_flow(maps, {"items": [1]})
        now = "2026-01-02T03:04:05.5+00:00"
        other = json.dumps({"event_type": "run:failed", "run_id": str(uuid.uuid4()), "flow_slug": "live_map",
                            "ts": now, "status": "failed", "error_message": "elsewhere", "failed_at": now,
                            "failed_step_slug": None})
        assert live.handle(other) is False
        step_failed = {"event_type": "step:failed", "run_id": str(run.run_id), "flow_slug": "live_map",
                       "ts": now, "step_slug": "split", "status": "failed", "error_message": "told by the framework",
                       "failed_at": now}
        assert live.handle(step_failed) is True
        assert live.handle(step_failed) is False  # a duplicate changes nothing
        assert live.get().step("split").status == "failed"


def test_live_client_is_exported():
    assert pgflow.LiveClient is LiveClient and pgflow.LiveRun is not None and pgflow.EventHub is not None
