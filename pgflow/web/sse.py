"""Server-Sent Events for browsers: one run's events, or every run's, snapshot first.

    from pgflow.web.sse import event_stream
    app.mount("/pgflow", event_stream(client, auth=staff_only))   # FastAPI, Starlette or any ASGI app

    GET /pgflow/runs/<run_id>          one run: snapshot, then its changes, then run:finished
    GET /pgflow/runs?flow=<slug>&tasks=1  every run (of one flow): snapshot, then run and step
                                       events (task events too with tasks=1)

Each stream starts with ``event: snapshot`` whose data is ``{"reason": ..., "run": {...}}``
(one run, with step states and tasks; fields over 16 kB of JSON left out and named in
``truncated``) or ``{"reason": ..., "runs": [...]}`` (the newest runs: metadata only, no
input, output or step states). ``/runs/<run_id>?tasks=progress`` sends no task events: each
map step's task counts come as ``step:progress`` at most every ``progress_interval`` seconds,
and its snapshots carry ``task_counts`` per step instead of the tasks.

A one-run stream writes what arrives in a burst together, at most one write every
``WRITE_INTERVAL`` (10 ms) unless its backlog reaches half its bound, a snapshot is due or the
run's end is known: each event is still its own message, in the same order.

Falling behind: a one-run stream keeps at most 1,000 messages for a client that does not read
(a background tab, a slow proxy); beyond that it drops them and sends one fresh snapshot
(``reason: "overflow"``) when the client reads again. The all-runs stream does the same after
1,000 events (``reason: "resync"``). So a stalled client costs bounded memory, and a client far
behind receives the current state rather than every intermediate event. The other messages are named after the event (``run:started``,
``step:completed``, ``task:failed``, ``run:finished``...) and carry its payload as JSON (see
docs/reference/events.md). A comment line (``: keep-alive``) is sent after ``keepalive``
seconds of silence so proxies keep the connection open.

Ids and resuming: every message has an id ``<stream>:<n>``. The database keeps no history of
its NOTIFY events, so a reconnecting browser (which sends ``Last-Event-ID``) is not replayed what
it missed: it gets a fresh snapshot (``reason: "resumed"``) and the live events from there. The
snapshot holds every change the missed events made, and applying an event twice is harmless
(statuses only move forward), so the page ends in the same state. The same happens without a
reconnect when the server's own LISTEN connection had a gap (``reason: "resync"``).

A one-run stream ends after ``run:finished`` (the final snapshot comes just before it); the
JavaScript client (``pgflow-live.js``) closes its EventSource then, so the browser does not
reconnect. The all-runs stream does not end.

``auth`` and ``allowed_hosts`` work as in :func:`pgflow.web.create_app` (one implementation:
:class:`pgflow.web.security.Guard`): without a hook only loopback ``Host`` names are served.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from uuid import UUID

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from pgflow.errors import ConfigurationError, DatabaseUnavailable, PgFlowError, RunNotFound
from pgflow.live.hub import EventHub
from pgflow.live.markers import Gap
from pgflow.db import Query
from pgflow.live.run import _is_async, hub_for
from pgflow.live.state import jsonable
from pgflow.live.viewers import MODES, VIEWER_BUFFER, SharedRuns, capped_payload
from pgflow.web.auth import AuthHook
from pgflow.web.security import STREAM_CSP, guard

Write = Callable[[str], Awaitable[None]]

HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}
#: seconds between two writes of a one-run stream's events: what arrives meanwhile goes out in the
#: next write. A map's thousands of events would otherwise cost each client a write (a system
#: call) per event; an event after a quiet moment still goes out at once.
WRITE_INTERVAL = 0.01


def _dumps(data: Any) -> str:
    return json.dumps(data, default=str, separators=(",", ":"))


def _unavailable(exc: PgFlowError) -> Response:
    """503 with the reason: the event hub cannot listen (the database is down, or a pooler is in
    the way and the message says what to set); a browser's EventSource stops on a non-200 answer."""
    return JSONResponse({"error": str(exc)}, status_code=503)


def _snapshot(reason: str, run_json: str) -> str:
    return f'{{"reason":{_dumps(reason)},"run":{run_json}}}'


class _Stream:
    """Numbered SSE messages of one connection."""

    def __init__(self, write: Write) -> None:
        self._write = write
        self._token = secrets.token_hex(4)
        self._count = 0

    async def message(self, event: str, data: Any) -> None:
        await self.text(event, _dumps(data))

    async def text(self, event: str, data: str) -> None:
        """A message whose data is JSON text already."""
        await self.texts([(event, data)])

    async def texts(self, messages: list[tuple[str, str]]) -> None:
        """Several messages (event name, JSON text) in one write."""
        parts = []
        for event, data in messages:
            self._count += 1
            parts.append(f"id: {self._token}:{self._count}\nevent: {event}\ndata: {data}\n\n")
        await self._write("".join(parts))

    async def comment(self, text: str) -> None:
        await self._write(f": {text}\n\n")

    async def retry(self, milliseconds: int) -> None:
        await self._write(f"retry: {milliseconds}\n\n")


class _EventStreamResponse:
    """Streams until ``produce`` returns or the client disconnects; ``cleanup`` always runs."""

    def __init__(self, produce: Callable[[Write], Awaitable[None]], cleanup: Callable[[], Awaitable[None]]) -> None:
        self.produce = produce
        self.cleanup = cleanup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/event-stream; charset=utf-8")]
        headers += [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()]
        await send({"type": "http.response.start", "status": 200, "headers": headers})

        async def write(text: str) -> None:
            await send({"type": "http.response.body", "body": text.encode(), "more_body": True})

        try:
            async with anyio.create_task_group() as group:
                async def watch_disconnect() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(watch_disconnect)
                try:
                    await self.produce(write)
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                finally:
                    group.cancel_scope.cancel()
        except OSError:
            pass  # the client went away while we wrote
        finally:
            with anyio.CancelScope(shield=True):
                await self.cleanup()


def event_stream(client: Any, *, auth: AuthHook | None = None, allowed_hosts: Iterable[str] | None = None,
                 hub: EventHub | None = None, keepalive: float = 15.0, retry_ms: int = 2000,
                 runs_limit: int = 50, progress_interval: float = 0.5,
                 viewers: SharedRuns | None = None) -> Starlette:
    """An ASGI app streaming runs' events as SSE; mount it anywhere (see the module docstring).

    ``client`` is a :class:`pgflow.AsyncClient` (snapshots are read with it); ``hub`` defaults to
    the process's shared :class:`~pgflow.live.EventHub` for the client's database. ``auth`` and
    ``allowed_hosts`` decide who is served, as for :func:`pgflow.web.create_app`. ``viewers``: a
    :class:`~pgflow.live.viewers.SharedRuns` of your own (its ``maxsize`` bounds each client's
    backlog) to inspect or tune.
    """
    return Starlette(routes=stream_routes(client, hub=hub, keepalive=keepalive, retry_ms=retry_ms,
                                          runs_limit=runs_limit, progress_interval=progress_interval,
                                          viewers=viewers),
                     middleware=[guard(auth, allowed_hosts, STREAM_CSP)])


def stream_routes(client: Any, *, hub: EventHub | None = None, keepalive: float = 15.0,
                  retry_ms: int = 2000, runs_limit: int = 50, progress_interval: float = 0.5,
                  viewers: SharedRuns | None = None) -> list[Route]:
    """The SSE routes without a guard in front: for an app that has its own (the dashboard)."""

    async def the_hub() -> EventHub:
        return hub if hub is not None else await hub_for(client)

    runs = viewers if viewers is not None else SharedRuns(client, hub, progress_interval=progress_interval)

    async def one_run(request: Request) -> Response | _EventStreamResponse:
        try:
            run_id = UUID(request.path_params["run_id"])
        except ValueError:
            return JSONResponse({"error": "not a run id: a run id is a UUID"}, status_code=400)
        mode = request.query_params.get("tasks") or "tasks"
        if mode not in MODES:
            return JSONResponse({"error": f"tasks= takes {' or '.join(MODES)}, not {mode!r}"}, status_code=400)
        resumed = request.headers.get("last-event-id") is not None
        try:
            if runs.hub is None:
                runs.hub = await the_hub()
            viewer = await runs.view(run_id, mode)
        except RunNotFound as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        except (ConfigurationError, DatabaseUnavailable) as exc:  # e.g. behind a pooler without PGFLOW_DIRECT_URL
            return _unavailable(exc)

        async def produce(write: Write) -> None:
            stream = _Stream(write)
            await stream.retry(retry_ms)
            await stream.text("snapshot", _snapshot("resumed" if resumed else "initial", await viewer.snapshot()))
            last_progress = last_write = 0.0
            while True:
                try:
                    await viewer.wait(keepalive)
                except asyncio.TimeoutError:
                    await stream.comment("keep-alive")
                    continue
                if (pause := last_write + WRITE_INTERVAL - time.monotonic()) > 0:
                    await viewer.collect(pause)  # a burst: let more of it come, then write it at once
                last_write = time.monotonic()
                while True:  # the backlog, in one write; a viewer far behind gets one snapshot instead
                    if viewer.snapshot_due is not None:
                        reason = viewer.snapshot_due
                        await stream.text("snapshot", _snapshot(reason, await viewer.snapshot()))
                    elif items := viewer.take_all():
                        await stream.texts(items)
                    else:
                        break
                if viewer.dirty:
                    if viewer.finished is None:  # at most one round of progress per interval, but the end goes at once
                        with contextlib.suppress(asyncio.TimeoutError):
                            await asyncio.wait_for(viewer.ended.wait(),
                                                   max(0.0, last_progress + progress_interval - time.monotonic()))
                    last_progress = time.monotonic()
                    for text in viewer.progress():
                        await stream.text("step:progress", text)
                if viewer.finished is not None and not viewer.items and viewer.snapshot_due is None:
                    await stream.text("snapshot", _snapshot("finished", await viewer.snapshot()))
                    await stream.text("run:finished", capped_payload(viewer.finished.raw, runs.field_limit))
                    return

        return _EventStreamResponse(produce, viewer.close)

    async def all_runs(request: Request) -> Response | _EventStreamResponse:
        flow = request.query_params.get("flow") or None
        tasks = request.query_params.get("tasks", "") in ("1", "true", "yes")
        resumed = request.headers.get("last-event-id") is not None
        items: asyncio.Queue[Any] = asyncio.Queue(maxsize=VIEWER_BUFFER)

        def receive(item: Any) -> None:
            if items.full():  # a slow browser: drop the backlog, send a fresh snapshot instead
                while not items.empty():
                    items.get_nowait()
                item = Gap("overflow")
            items.put_nowait(item)

        try:
            subscription = await (await the_hub()).subscribe_all(tasks=tasks, callback=receive)
        except (ConfigurationError, DatabaseUnavailable) as exc:
            return _unavailable(exc)

        async def snapshot(stream: _Stream, reason: str) -> None:
            query = Query.all("live_recent_runs", flow_slug=flow, limit=runs_limit)
            rows = await (client._run(query) if _is_async(client) else asyncio.to_thread(client._run, query))
            await stream.message("snapshot", {"reason": reason, "runs": [jsonable(r) for r in rows]})

        async def produce(write: Write) -> None:
            stream = _Stream(write)
            await stream.retry(retry_ms)
            await snapshot(stream, "resumed" if resumed else "initial")
            while True:
                try:
                    item = await asyncio.wait_for(items.get(), keepalive)
                except asyncio.TimeoutError:
                    await stream.comment("keep-alive")
                    continue
                if isinstance(item, Gap):
                    await snapshot(stream, "resync")
                elif flow is None or item.flow_slug == flow:
                    await stream.message(item.event_type, item.raw)

        return _EventStreamResponse(produce, subscription.close)

    return [
        Route("/runs/{run_id}", one_run, methods=["GET"]),
        Route("/runs", all_runs, methods=["GET"]),
    ]
