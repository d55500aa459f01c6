"""The dashboard's shared state: what every page handler needs, and how a request finds it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from pgflow.web.render import Renderer
from pgflow.web.store import Store

T = TypeVar("T")
log = logging.getLogger("pgflow.web")

#: seconds without a request for a shared reading after which the dashboard stops following events for it
WATCH_IDLE = 60.0


@dataclass
class Dashboard:
    """What every page handler needs: the store, the templates and the settings."""

    store: Store
    renderer: Renderer
    stale_after: timedelta
    dead_after: timedelta
    live: bool
    events_client: Any = None  # the AsyncClient behind the event stream, when this app made it
    actions: Any = None  # pgflow.web.actions.Actions: who may act, and the writable connections
    #: seconds one reading of a shared page (the overview) serves every viewer; 0: read per request
    cache_ttl: float = 1.0
    #: the AsyncClient whose events end a shared reading early (set when the app streams events)
    live_client: Any = None
    _cache: dict[Any, tuple[asyncio.AbstractEventLoop, float, int, asyncio.Future[Any]]] = field(
        default_factory=dict, repr=False)
    _renewing: dict[Any, asyncio.Future[Any]] = field(default_factory=dict, repr=False)
    _generation: int = 0  # moved by every run and step event, and by gaps
    _watch: Any = None  # the hub subscription that moves it, while the overview is being read
    _last_read: float = 0.0  # loop time of the last request for a shared reading
    _idle_check: Any = None  # the timer that ends the subscription once nobody reads
    _closing: Any = None  # the closing of an ended subscription
    _retry_watch_at: float = 0.0  # after a failed subscription, when to try again

    async def cached(self, key: Any, read: Callable[[], Awaitable[T]]) -> T:
        """``await read()``, shared: requests for ``key`` within ``cache_ttl`` seconds of the
        start of a reading get its result, and requests that arrive while it runs wait for it
        rather than start their own, so ten viewers of the overview under write load cost the
        database one set of queries a second, not ten. Up to twice ``cache_ttl`` a request still
        gets the last reading at once while a new one starts behind it (so a viewer who comes back
        every second or two never waits on the queries); older readings are not used. With live
        events, any run or step event ends the sharing at once: a page refreshed because of an
        event never gets a reading that started before it. A failed reading is not kept."""
        loop = asyncio.get_running_loop()
        self._last_read = loop.time()
        if self.cache_ttl <= 0 or not await self._watch_runs():
            return await read()
        entry = self._cache.get(key)
        if entry is not None:
            entry_loop, started, generation, future = entry
            age = loop.time() - started
            if entry_loop is not loop or generation != self._generation or age > 2 * self.cache_ttl:
                entry = None
            elif age > self.cache_ttl and future.done():
                self._renew(key, read)
        if entry is None:
            future = asyncio.ensure_future(read())
            entry = self._cache[key] = (loop, loop.time(), self._generation, future)
            future.add_done_callback(lambda f: self._forget_failed(key, f))
        return await asyncio.shield(entry[3])  # a viewer who leaves does not cancel the others' reading

    def _renew(self, key: Any, read: Callable[[], Awaitable[Any]]) -> None:
        """Start a reading that replaces ``key``'s once it succeeds (if no event came meanwhile)."""
        if key in self._renewing:
            return
        loop = asyncio.get_running_loop()
        started, generation = loop.time(), self._generation
        future = self._renewing[key] = asyncio.ensure_future(read())

        def done(f: asyncio.Future[Any]) -> None:
            self._renewing.pop(key, None)
            if f.cancelled():
                return
            if f.exception() is not None:  # the next request reads for itself once this one is too old
                log.warning("pgflow dashboard: renewing a shared reading failed: %s", f.exception())
            elif generation == self._generation:
                self._cache[key] = (loop, started, generation, f)

        future.add_done_callback(done)

    def _forget_failed(self, key: Any, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None:
            if (entry := self._cache.get(key)) is not None and entry[3] is future:
                del self._cache[key]

    async def _watch_runs(self) -> bool:
        """Whether events end shared readings (subscribing on first use); without them, or
        while they cannot be had, every request reads for itself."""
        if self._watch is not None or self.live_client is None:
            return self.live_client is None or self._watch is not None
        loop = asyncio.get_running_loop()
        if loop.time() < self._retry_watch_at:
            return False
        from pgflow.live.run import hub_for

        self._watch = "subscribing"
        try:
            hub = await hub_for(self.live_client)
            self._watch = await hub.subscribe_all(callback=self._changed)
        except Exception as exc:
            self._watch = None
            self._retry_watch_at = loop.time() + WATCH_IDLE  # not a try (and a warning) per request
            log.warning("pgflow dashboard: cannot follow run events (%s); the overview is read per request "
                        "for the next %.0f s", exc, WATCH_IDLE)
            return False
        self._idle_check = asyncio.get_running_loop().call_later(WATCH_IDLE, self._stop_watch_if_idle)
        return True

    def _stop_watch_if_idle(self) -> None:
        """End the subscription ``WATCH_IDLE`` seconds after the last shared reading was asked
        for: while it lasts, the database sends this process every event of every run, which an
        open dashboard page costs anyway but an idle dashboard should not. The readings go with it
        (without events nothing would end them early); the next request subscribes again."""
        loop = asyncio.get_running_loop()
        idle_for = loop.time() - self._last_read
        if self._idle_check is not None:
            self._idle_check.cancel()  # one timer at a time
        if idle_for < WATCH_IDLE:
            self._idle_check = loop.call_later(WATCH_IDLE - idle_for, self._stop_watch_if_idle)
            return
        watch, self._watch, self._idle_check = self._watch, None, None
        self._generation += 1  # a reading in flight is not kept
        self._cache.clear()
        if watch is not None and not isinstance(watch, str):
            self._closing = asyncio.ensure_future(watch.close())

    def _changed(self, item: Any) -> None:
        self._generation += 1

    async def close(self) -> None:
        """Close the dashboard's connections (the standalone app's lifespan does it on shutdown)."""
        for renewing in list(self._renewing.values()):
            renewing.cancel()
        if self._idle_check is not None:
            self._idle_check.cancel()
        if self._closing is not None:
            await self._closing
        watch, self._watch = self._watch, None
        if watch is not None and not isinstance(watch, str):
            await watch.close()
        await self.store.close()
        client, self.events_client = self.events_client, None
        if client is not None:
            await client.close()
        if self.actions is not None:
            await self.actions.close()

    def page(self, request: Request, template: str, context: dict[str, Any], **kw: Any) -> Response:
        return self.renderer.page(request, template, {"nav": template.split(".")[0], **context}, **kw)


def dashboard_of(request: Request) -> Dashboard:
    return request.app.state.dashboard
