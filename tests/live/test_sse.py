"""The SSE endpoint over real HTTP: uvicorn on a free port, httpx streaming."""

from __future__ import annotations

import asyncio

import httpx

from pgflow.live import EventHub, run_to_dict
from pgflow.web.sse import event_stream
from tests.helpers import eventually_async
from tests.live.driver import SqlDriver
from tests.live.flows import failing, maps
from tests.live.sse_client import Message, messages, serving


async def next_message(stream, timeout: float = 10.0) -> Message:
    while True:
        item = await asyncio.wait_for(stream.__anext__(), timeout)
        if isinstance(item, Message):
            return item


async def test_one_run_streams_its_snapshot_then_changes_then_the_final_state(client, db_url):
    run_id = await client.start_flow(maps, {"items": [1, 2, 3]})
    async with serving(event_stream(client)) as base, httpx.AsyncClient(timeout=10) as http:
        async with http.stream("GET", f"{base}/runs/{run_id}") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            stream = messages(response)
            first = await next_message(stream)
            assert (first.event, first.data["reason"]) == ("snapshot", "initial")
            assert first.data["run"]["status"] == "started"
            async with SqlDriver(db_url, maps) as driver:
                await driver.drain()
            received = [first]
            while received[-1].event != "run:finished":
                received.append(await next_message(stream))
    names = [m.event for m in received]
    assert "step:completed" in names and "task:failed" in names and "run:completed" in names
    final = received[-2]
    assert (final.event, final.data["reason"]) == ("snapshot", "finished")
    assert final.data["run"] == run_to_dict(await client.get_run_with_states(run_id))
    assert received[-1].data["outcome"] == "completed"
    ids = [m.id for m in received]
    assert len(set(ids)) == len(ids) and all(i.endswith(f":{n}") for n, i in enumerate(ids, 1))


async def test_a_reconnect_with_last_event_id_gets_a_fresh_snapshot(client, db_url):
    run_id = await client.start_flow(failing, {"n": 4})
    async with SqlDriver(db_url, failing) as driver:
        await driver.drain()
    async with serving(event_stream(client)) as base, httpx.AsyncClient(timeout=10) as http:
        headers = {"Last-Event-ID": "abcd:7"}
        async with http.stream("GET", f"{base}/runs/{run_id}", headers=headers) as response:
            got = [m async for m in messages(response) if isinstance(m, Message)]
    assert [(m.event, m.data.get("reason")) for m in got] == [
        ("snapshot", "resumed"), ("snapshot", "finished"), ("run:finished", None)]
    assert got[0].data["run"]["status"] == "failed"
    assert got[-1].data["failed_steps"] == ["b"]


async def test_all_runs_stream_sends_recent_runs_then_events_and_keepalives(client, db_url):
    older = await client.start_flow(maps, {"items": [1]})
    app = event_stream(client, keepalive=0.2)
    async with serving(app) as base, httpx.AsyncClient(timeout=10) as http:
        async with http.stream("GET", f"{base}/runs?flow=live_map") as response:
            stream = messages(response)
            first = await next_message(stream)
            assert first.event == "snapshot" and [r["run_id"] for r in first.data["runs"]] == [str(older)]
            await client.start_flow(failing, {"n": 1})  # another flow: filtered out
            newer = await client.start_flow(maps, {"items": [2]})
            started = await next_message(stream)
            assert (started.event, started.data["run_id"]) == ("run:started", str(newer))
            comment = await asyncio.wait_for(stream.__anext__(), 5)
            while isinstance(comment, Message):  # the step:started events of the new run
                assert comment.data["run_id"] == str(newer) and comment.event.startswith("step:")
                comment = await asyncio.wait_for(stream.__anext__(), 5)
            assert comment == "keep-alive"


async def test_unknown_or_malformed_run_ids_are_refused(client):
    async with serving(event_stream(client)) as base, httpx.AsyncClient(timeout=10) as http:
        missing = await http.get(f"{base}/runs/00000000-0000-0000-0000-000000000000")
        assert missing.status_code == 404 and "does not exist" in missing.json()["error"]
        assert (await http.get(f"{base}/runs/not-a-uuid")).status_code == 400


async def test_a_browser_that_goes_away_releases_its_subscription(client, db_url):
    run_id = await client.start_flow(maps, {"items": [1]})
    async with EventHub(db_url) as hub:
        async with serving(event_stream(client, hub=hub)) as base, httpx.AsyncClient(timeout=10) as http:
            async with http.stream("GET", f"{base}/runs/{run_id}") as response:
                await next_message(messages(response))
                assert len(hub._subscribers()) == 1
            await eventually_async(lambda: _async(not hub._subscribers()), message="subscription released")


async def _async(value):
    return value
