"""Forwarding to a user's pub/sub: the worker's telemetry and the database's events."""

from __future__ import annotations

import json

import pgflow
from pgflow import telemetry
from pgflow.live import EventHub
from pgflow.live.bridge import PubSubBridge, forward_events
from tests.helpers import eventually_async
from tests.live.driver import SqlDriver
from tests.live.flows import maps

ping = pgflow.Job("live_ping", max_attempts=1)


@ping.perform
def pong(input):
    return {"pong": input["n"]}


async def _async(value):
    return value


async def test_worker_telemetry_reaches_the_pubsub_on_all_and_run_topics(client, db_url):
    published: list[tuple[str, dict]] = []

    async def publish(topic, message):  # an async pub/sub client, e.g. redis.asyncio
        published.append((topic, json.loads(json.dumps(message))))  # JSON-ready as sent

    bridge = PubSubBridge(publish, handler_id="test.pubsub").attach()
    try:
        async with pgflow.Worker(db_url, [ping], shutdown_timeout=5):
            run_id = await client.enqueue(ping, {"n": 7})
            await eventually_async(lambda: _async(
                (f"pgflow:run:{run_id}", "run.completed") in [(t, m["event"]) for t, m in published]),
                timeout=15, message="run.completed published")
    finally:
        bridge.detach()
    on_run = [m["event"] for t, m in published if t == f"pgflow:run:{run_id}"]
    assert on_run[:2] == ["task.start", "task.stop"] and "run.completed" in on_run
    on_all = [m["event"] for t, m in published if t == "pgflow:all"]
    assert "worker.start" in on_all and set(on_run) <= set(on_all)
    stop = next(m for t, m in published if m["event"] == "task.stop")
    assert stop["source"] == "telemetry" and stop["metadata"]["run_id"] == str(run_id)
    assert stop["measurements"]["duration"] >= 0


async def test_a_failing_publish_is_logged_and_the_bridge_stays_attached(client, db_url, caplog):
    def publish(topic, message):
        raise ConnectionError("the pub/sub is down")

    bridge = PubSubBridge(publish, handler_id="test.failing").attach()
    try:
        async with pgflow.Worker(db_url, [ping], shutdown_timeout=5):
            run_id = await client.enqueue(ping, {"n": 1})
            live = await pgflow.LiveRun.open(client, run_id)
            assert (await live.wait_for("completed", timeout=15)).output == {"live_ping": {"pong": 1}}
            await live.close()
        assert "test.failing" in telemetry.attached() and bridge.failures > 1
    finally:
        bridge.detach()
    assert "publishing failed" in caplog.text


async def test_database_events_are_forwarded_with_their_payload(client, db_url):
    published: list[tuple[str, dict]] = []
    async with EventHub(db_url) as hub:
        subscription = await forward_events(hub, lambda topic, message: published.append((topic, message)),
                                            prefix="app")
        run_id = await client.start_flow(maps, {"items": [1]})
        async with SqlDriver(db_url, maps) as driver:
            await driver.drain()
        await eventually_async(lambda: _async(any(m["event"] == "run:completed" for _, m in published)),
                               timeout=10)
        await subscription.close()
    assert {t for t, _ in published} == {"app:all", f"app:run:{run_id}"}
    events = [m["event"] for t, m in published if t == "app:all"]
    assert events[0] == "run:started" and events[-2:] == ["run:completed", "run:finished"]
    assert json.dumps(published)  # JSON-ready
