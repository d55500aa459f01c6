"""The SSE streams at scale: shared per-run state, bounded backlogs, progress mode, lean snapshots."""

from __future__ import annotations

import asyncio
import json
import socket

import httpx

from pgflow.events import run_channel
from pgflow.live import run_to_dict
from pgflow.live.viewers import SharedRuns
from pgflow.web.sse import event_stream
from tests.helpers import eventually_async
from tests.live.driver import SqlDriver
from tests.live.flows import maps
from tests.live.sse_client import Message, messages, serving
from tests.live.test_sse import next_message


async def soon(predicate) -> None:
    async def check() -> bool:
        return bool(predicate())
    await eventually_async(check)


async def test_a_client_that_stops_reading_keeps_at_most_its_bound_then_gets_a_fresh_snapshot(client, db_url):
    items = list(range(1, 301))
    run_id = await client.start_flow(maps, {"items": items})
    viewers = SharedRuns(client, maxsize=20)
    async with serving(event_stream(client, viewers=viewers), send_buffer=4096) as base:
        host, port = base.removeprefix("http://").split(":")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, (host, int(port)))
        await loop.sock_sendall(sock, f"GET /runs/{run_id} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        await soon(lambda: len(viewers.viewers_of(run_id)) == 1)
        (viewer,) = viewers.viewers_of(run_id)
        peak = 0

        async def watch_backlog() -> None:
            nonlocal peak
            while True:
                peak = max(peak, len(viewer.items))
                await asyncio.sleep(0)

        watcher = asyncio.ensure_future(watch_backlog())
        async with SqlDriver(db_url, maps) as driver:  # ~900 task events while the client reads nothing
            await driver.drain()
        await soon(lambda: viewer.finished is not None)
        watcher.cancel()
        assert peak <= 20 and len(viewer.items) <= 20
        assert not viewer.shared.live.tasks  # nobody was sent task events: the process stopped taking them
        received = b""
        while b"event: run:finished" not in received:  # now it reads: the stream still ends exactly
            chunk = await asyncio.wait_for(loop.sock_recv(sock, 65536), 10)
            assert chunk, "the server closed the stream early"
            received += chunk
        sock.close()
    text = received.decode()
    assert viewer.overflows >= 1 and '"reason":"overflow"' in text
    final = [block for block in text.split("\n\n") if '"reason":"finished"' in block][-1]
    data = json.loads(final.split("data: ", 1)[1].split("\r\n")[0].split("\n")[0])
    assert data["run"] == run_to_dict(await client.get_run_with_states(run_id))
    await soon(lambda: viewers.watched() == 0)


async def test_viewers_of_one_run_share_one_live_run_and_each_ends_in_the_final_state(client, db_url):
    run_id = await client.start_flow(maps, {"items": [1, 2, 3]})
    viewers = SharedRuns(client)
    async with serving(event_stream(client, viewers=viewers)) as base, httpx.AsyncClient(timeout=10) as http:
        async with http.stream("GET", f"{base}/runs/{run_id}") as one, \
                http.stream("GET", f"{base}/runs/{run_id}") as two:
            streams = [messages(r) for r in (one, two)]
            firsts = [await next_message(s) for s in streams]
            assert [m.data["reason"] for m in firsts] == ["initial", "initial"]
            assert viewers.watched() == 1 and len(viewers.viewers_of(run_id)) == 2
            async with SqlDriver(db_url, maps) as driver:
                await driver.drain()
            ends = []  # (a loop: Python 3.10 refuses an async comprehension nested in a comprehension)
            for s in streams:
                ends.append([m async for m in s if isinstance(m, Message)])
    in_db = run_to_dict(await client.get_run_with_states(run_id))
    for got in ends:
        assert got[-1].event == "run:finished" and got[-2].data["run"] == in_db
    await soon(lambda: viewers.watched() == 0)


async def test_progress_mode_sends_task_counts_instead_of_task_events(client, db_url):
    run_id = await client.start_flow(maps, {"items": list(range(1, 41))})
    app = event_stream(client, progress_interval=0.05)
    async with serving(app) as base, httpx.AsyncClient(timeout=10) as http:
        async with http.stream("GET", f"{base}/runs/{run_id}?tasks=progress") as response:
            stream = messages(response)
            first = await next_message(stream)
            assert all(s["tasks"] == [] and "task_counts" in s for s in first.data["run"]["step_states"])
            async with SqlDriver(db_url, maps) as driver:
                await driver.drain()
            got = [first] + [m async for m in stream if isinstance(m, Message)]
        bad = await http.get(f"{base}/runs/{run_id}?tasks=some")
    names = [m.event for m in got]
    assert not [n for n in names if n.startswith("task:")]
    progress = [m.data for m in got if m.event == "step:progress"]
    assert "double" in {p["step_slug"] for p in progress}
    assert len(progress) < 40  # coalesced, not one per task event
    final = got[-2].data["run"]
    assert {s["step_slug"]: s["task_counts"] for s in final["step_states"]}["double"] == {"completed": 40}
    assert bad.status_code == 400 and "progress" in bad.json()["error"]


async def test_a_run_watched_only_for_progress_is_followed_without_task_events(client, db_url):
    run_id = await client.start_flow(maps, {"items": list(range(1, 121))})
    viewers = SharedRuns(client, progress_interval=0.05)
    app = event_stream(client, viewers=viewers, progress_interval=0.05)
    async with serving(app) as base, httpx.AsyncClient(timeout=10) as http:
        async with http.stream("GET", f"{base}/runs/{run_id}?tasks=progress") as response:
            stream = messages(response)
            first = await next_message(stream)
            assert viewers.hub is not None
            assert run_channel(run_id, tasks=False) in viewers.hub.channels
            assert run_channel(run_id) not in viewers.hub.channels
            seen: list[str] = []
            hub = viewers.hub
            hub._dispatch = lambda notify, dispatch=hub._dispatch: (seen.append(notify.payload), dispatch(notify))[1]
            got = [first]
            async with SqlDriver(db_url, maps) as driver:
                while await driver.step():  # 50 tasks at a time, with pauses the counts show
                    await asyncio.sleep(0.15)
            got += [m async for m in stream if isinstance(m, Message)]
    assert not [m for m in got if m.event.startswith("task:")]
    assert not any('"task:' in payload for payload in seen)
    done = [m.data["tasks"].get("completed", 0) for m in got
            if m.event == "step:progress" and m.data["step_slug"] == "double"]
    assert len(done) >= 2 and done == sorted(done) and done[-1] == 120  # counts read as the run went
    final = {s["step_slug"]: s for s in got[-2].data["run"]["step_states"]}["double"]
    assert final["task_counts"] == {"completed": 120} and final["remaining_tasks"] == 0


async def test_task_events_are_followed_while_a_viewer_takes_them_and_again_when_one_comes(client, db_url):
    run_id = await client.start_flow(maps, {"items": list(range(1, 121))})
    viewers = SharedRuns(client, progress_interval=0.05)
    app = event_stream(client, viewers=viewers, progress_interval=0.05)
    async with serving(app) as base, httpx.AsyncClient(timeout=10) as http, SqlDriver(db_url, maps) as driver:
        async with http.stream("GET", f"{base}/runs/{run_id}?tasks=progress") as progress:
            progress_stream = messages(progress)
            await next_message(progress_stream)
            (watcher,) = viewers.viewers_of(run_id)
            assert not watcher.shared.live.tasks
            async with http.stream("GET", f"{base}/runs/{run_id}") as full:
                first = await next_message(messages(full))
                assert watcher.shared.live.tasks and first.data["run"] == run_to_dict(await client.get_run_with_states(run_id))
                await driver.step()
                await driver.step()  # the split and 50 of the map's tasks
            await soon(lambda: not watcher.shared.live.tasks)  # its last taker left
            await driver.step()
            async with http.stream("GET", f"{base}/runs/{run_id}") as again:  # tasks it did not follow
                first = await next_message(messages(again))
                assert watcher.shared.live.tasks
                assert first.data["run"] == run_to_dict(await client.get_run_with_states(run_id))
            await driver.drain()
            got = [m async for m in progress_stream if isinstance(m, Message)]
    final = {s["step_slug"]: s for s in got[-2].data["run"]["step_states"]}["double"]
    assert got[-1].event == "run:finished" and final["task_counts"] == {"completed": 120}


async def test_large_fields_are_left_out_of_snapshots_and_named(client, db_url):
    run_id = await client.start_flow(maps, {"items": [1], "padding": "x" * 40_000})
    async with serving(event_stream(client)) as base, httpx.AsyncClient(timeout=10) as http:
        async with http.stream("GET", f"{base}/runs/{run_id}") as response:
            first = await next_message(messages(response))
    run = first.data["run"]
    assert run["input"] is None and run["truncated"]["input"] > 40_000
    assert run["step_states"][0]["step_slug"] == "split"


async def test_the_all_runs_snapshot_carries_no_payloads_whatever_their_size(client, db_url):
    for n in range(3):
        await client.start_flow(maps, {"items": [n], "padding": "y" * 1_000_000})
    async with serving(event_stream(client)) as base, httpx.AsyncClient(timeout=10) as http:
        async with http.stream("GET", f"{base}/runs") as response:
            lines = response.aiter_lines()
            while not (line := await anext(lines)).startswith("data: "):
                pass
    assert len(line) < 100_000
    runs = json.loads(line[6:])["runs"]
    assert len(runs) == 3 and all("input" not in r and "output" not in r for r in runs)
    assert {r["status"] for r in runs} == {"started"} and all(r["flow_slug"] == "live_map" for r in runs)


async def test_a_burst_of_events_goes_out_in_few_writes_each_event_its_own_message_in_order(client):
    from starlette.applications import Starlette

    from pgflow.events import parse_event
    from pgflow.web.sse import stream_routes

    run_id = await client.start_flow(maps, {"items": list(range(50))})
    viewers = SharedRuns(client)
    app = Starlette(routes=stream_routes(client, viewers=viewers))
    writes: list[str] = []
    gone = asyncio.Event()

    async def send(message) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            writes.append(message["body"].decode())

    async def receive():
        await gone.wait()
        return {"type": "http.disconnect"}

    scope = {"type": "http", "method": "GET", "path": f"/runs/{run_id}", "raw_path": f"/runs/{run_id}".encode(),
             "query_string": b"", "headers": [(b"host", b"localhost")], "scheme": "http", "http_version": "1.1",
             "root_path": "", "server": ("localhost", 80), "client": ("127.0.0.1", 1)}
    serving_task = asyncio.ensure_future(app(scope, receive, send))
    try:
        await soon(lambda: any("event: snapshot" in w for w in writes))
        before = len(writes)
        hub = viewers.viewers_of(run_id)[0].shared.live.hub
        base = {"run_id": str(run_id), "flow_slug": "live_map", "ts": "2026-01-02T03:04:05Z", "step_slug": "double",
                "status": "started", "attempt": 1, "worker_id": None, "started_at": "2026-01-02T03:04:05Z"}
        for index in range(50):  # one event per turn of the event loop, as the hub delivers them
            hub.publish(parse_event({"event_type": "task:started", **base, "task_index": index}))
            await asyncio.sleep(0)
        await soon(lambda: "".join(writes).count("event: task:started") == 50)
        sent = "".join(writes[before:])
        indexes = [json.loads(line[6:])["task_index"] for line in sent.splitlines() if line.startswith("data: ")]
        assert indexes == list(range(50))
        assert len(writes) - before <= 10  # without batching: a write per event
    finally:
        gone.set()
        await asyncio.wait_for(serving_task, 10)


async def test_a_viewer_collecting_a_burst_stops_waiting_once_its_backlog_is_half_its_bound():
    from pgflow.events import parse_event
    from pgflow.live.viewers import Viewer

    viewer = Viewer(None, "tasks", maxsize=10)  # type: ignore[arg-type]  # no shared run: it is not read here
    event = parse_event({"event_type": "task:started", "run_id": "00000000-0000-0000-0000-000000000001",
                         "flow_slug": "f", "ts": "2026-01-02T03:04:05Z", "step_slug": "s", "task_index": 0,
                         "status": "started", "attempt": 1, "worker_id": None, "started_at": "2026-01-02T03:04:05Z"})
    waiting = asyncio.ensure_future(viewer.collect(5.0))
    for _ in range(4):
        viewer._event(event, "{}")
        await asyncio.sleep(0)
    assert not waiting.done()
    viewer._event(event, "{}")  # the fifth: half the bound
    await asyncio.wait_for(waiting, 1.0)  # without the early end it waits its 5 s
    assert len(viewer.items) == 5 and viewer.overflows == 0
