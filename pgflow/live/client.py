"""``LiveClient``: runs tracked under names, for server-driven UIs (Textual, NiceGUI, ...).

    live = pgflow.LiveClient(client, on_change=lambda key, run: refresh_view())
    await live.start_flow(process_order, {"order_id": 1}, as_="order_run")
    live["order_run"]          # the current Run (with step states), or None
    await live.unsubscribe(as_="order_run")

Each key holds one :class:`~pgflow.live.LiveRun`; starting or subscribing under a key that is
in use replaces the run tracked there. ``on_change(key, run)`` is called after every change of
a tracked run (``run`` is None after ``unsubscribe``). Frameworks that deliver events
themselves pass them to :meth:`LiveClient.handle`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

from pgflow.events import Event, parse_event
from pgflow.live.hub import EventHub
from pgflow.live.markers import Gap
from pgflow.live.run import Change, LiveRun, _is_async
from pgflow.models import Run

log = logging.getLogger("pgflow.live")

DEFAULT_KEY = "flow_run"

OnChange = Callable[[str, "Run | None"], Any]


async def _call(client: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    function = getattr(client, method)
    if _is_async(client):
        return await function(*args, **kwargs)
    return await asyncio.to_thread(function, *args, **kwargs)


class LiveClient:
    """Tracks runs by key and keeps each one current; see the module docstring."""

    def __init__(self, client: Any, *, hub: EventHub | None = None, on_change: OnChange | None = None) -> None:
        self.client = client
        self.hub = hub
        self._runs: dict[str, LiveRun] = {}
        self._callbacks: list[OnChange] = [on_change] if on_change else []
        self._tasks: set[asyncio.Task[Any]] = set()

    # ---------------------------------------------------------------- tracking
    async def start_flow(self, flow: Any, input: Any = None, *, as_: str = DEFAULT_KEY) -> Run:
        """Start a run of ``flow`` and track it under ``as_``; returns its first state."""
        run_id = await _call(self.client, "start_flow", flow, input)
        return await self.subscribe(run_id, as_=as_)

    async def enqueue(self, job: Any, input: Any = None, *, as_: str = DEFAULT_KEY, **options: Any) -> Run:
        """Enqueue a job (``delay_seconds=`` / ``scheduled_at=`` as ``client.enqueue``) and track it."""
        run_id = await _call(self.client, "enqueue", job, input, **options)
        return await self.subscribe(run_id, as_=as_)

    async def subscribe(self, run_id: UUID | str, *, as_: str = DEFAULT_KEY) -> Run:
        """Track an existing run under ``as_`` (e.g. on a run detail page); returns its state.

        Raises RunNotFound for an unknown run id (the key is then left empty).
        """
        await self.unsubscribe(as_=as_)
        live = LiveRun(self.client, run_id, hub=self.hub)
        await live.start()
        self._runs[as_] = live
        live.on_change(lambda change: self._changed(as_, live, change))
        self._notify(as_, live.run)
        return live.run

    async def unsubscribe(self, *, as_: str = DEFAULT_KEY) -> None:
        """Stop tracking the run under ``as_``; the key then reads None."""
        live = self._runs.pop(as_, None)
        if live is not None:
            await live.close()
            self._notify(as_, None)

    def handle(self, event: Event | Gap | dict[str, Any] | str) -> bool:
        """Apply an event (typed, or a payload as dict/JSON text) to the tracked runs it concerns.

        Returns True when it changed one. A :class:`Gap` makes every tracked run reload.
        """
        if isinstance(event, (dict, str)):
            event = parse_event(event)
        changed = False
        for live in list(self._runs.values()):
            if isinstance(event, Gap) or event.run_id == live.run_id:
                changed = live.apply(event) or changed
        return changed

    # --------------------------------------------------------------- reading
    def __getitem__(self, key: str) -> Run | None:
        live = self._runs.get(key)
        return live.run if live is not None else None

    def get(self, key: str = DEFAULT_KEY) -> Run | None:
        """The run tracked under ``key``, or None."""
        return self[key]

    def __contains__(self, key: object) -> bool:
        return key in self._runs

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._runs))

    def keys(self) -> list[str]:
        return list(self._runs)

    def live_run(self, key: str = DEFAULT_KEY) -> LiveRun | None:
        """The :class:`LiveRun` behind ``key`` (to ``wait_for`` or iterate it), or None."""
        return self._runs.get(key)

    async def wait_for(self, status: str = "completed", *, as_: str = DEFAULT_KEY,
                       timeout: float | None = None) -> Run:
        """``LiveRun.wait_for`` on the run tracked under ``as_``."""
        live = self._runs.get(as_)
        if live is None:
            raise KeyError(f"no run is tracked under {as_!r}; tracked: {', '.join(self._runs) or 'none'}")
        return await live.wait_for(status, timeout)

    # --------------------------------------------------------------- changes
    def on_change(self, callback: OnChange) -> Callable[[], None]:
        """Call ``callback(key, run)`` after each change; returns a function that removes it."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None

    def _changed(self, key: str, live: LiveRun, change: Change) -> None:
        if self._runs.get(key) is live:
            self._notify(key, change.run)

    def _notify(self, key: str, run: Run | None) -> None:
        for callback in list(self._callbacks):
            try:
                result = callback(key, run)
            except Exception:
                log.exception("pgflow LiveClient: an on_change callback raised for %r", key)
                continue
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Stop tracking every run."""
        for key in list(self._runs):
            await self.unsubscribe(as_=key)

    async def __aenter__(self) -> LiveClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
