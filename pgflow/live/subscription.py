"""A subscriber's end of the event hub: a bounded queue (or a callback) of events and gaps."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from uuid import UUID

from pgflow.live.markers import Gap, Item, RunFinished

log = logging.getLogger("pgflow.live")


class Subscription:
    """Events of one run (``scope="run"``), of all runs (``"runs"``) or of all tasks (``"tasks"``).

    Iterate it (``async for item in sub``) or call :meth:`get`; an iteration ends when the
    subscription or its hub is closed, and a one-run subscription also ends (and closes) right
    after it has given out the run's :class:`RunFinished`, as ``client.subscribe(run_id)`` does. With a ``callback`` the items are passed to it instead,
    synchronously, in the hub's task: keep it short and do not block.

    At most ``maxsize`` items wait in the queue; when a slow reader lets it fill up, the queued
    items are dropped and replaced by one :class:`Gap` (``reason="overflow"``), so nothing is
    lost silently.

    ``on_close`` is how the subscription leaves its hub (the hub passes its own remover), so this
    module knows nothing of the hub.
    """

    def __init__(self, on_close: Callable[[Subscription], Awaitable[None]], scope: str, run_id: UUID | None,
                 include_tasks: bool, callback: Callable[[Item], Any] | None, maxsize: int) -> None:
        self._on_close = on_close
        self.scope = scope
        self.run_id = run_id
        self.include_tasks = include_tasks
        self.maxsize = max(1, maxsize)
        #: how many times the queue overflowed
        self.overflows = 0
        self.closed = False
        self._run_over = False  # a one-run subscription has given out its RunFinished
        self._callback = callback
        self._queue: deque[Item] = deque()
        self._ready = asyncio.Event()

    def __repr__(self) -> str:
        target = self.run_id if self.scope == "run" else self.scope
        return f"<Subscription {target} queued={len(self._queue)}{' closed' if self.closed else ''}>"

    def _deliver(self, item: Item) -> None:
        if self.closed:
            return
        if self._callback is not None:
            try:
                self._callback(item)
            except Exception:
                log.exception("pgflow event hub: a subscriber's callback raised; the event is skipped for it")
            return
        if len(self._queue) >= self.maxsize:
            self._queue.clear()
            self.overflows += 1
            item = Gap("overflow")
        self._queue.append(item)
        self._ready.set()

    def _end(self) -> None:
        self.closed = True
        self._ready.set()

    async def get(self, timeout: float | None = None) -> Item | None:
        """The next item; ``None`` once the subscription is closed and drained.

        A one-run subscription is closed and drained once its ``RunFinished`` was returned.
        Raises ``TimeoutError`` (``asyncio.TimeoutError``) when nothing came within ``timeout``.
        """
        if self._run_over:
            await self.close()
            return None
        while not self._queue:
            if self.closed:
                return None
            self._ready.clear()
            await asyncio.wait_for(self._ready.wait(), timeout)
        item = self._queue.popleft()
        if self.scope == "run" and isinstance(item, RunFinished):
            self._run_over = True
        return item

    def get_nowait(self) -> Item | None:
        """The next queued item, or ``None`` when nothing is queued."""
        return self._queue.popleft() if self._queue else None

    def __aiter__(self) -> AsyncIterator[Item]:
        return self

    async def __anext__(self) -> Item:
        item = await self.get()
        if item is None:
            raise StopAsyncIteration
        return item

    async def close(self) -> None:
        """Stop receiving events (the hub UNLISTENs when nobody needs the channel any more)."""
        if self.closed:
            return
        self._end()
        await self._on_close(self)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
