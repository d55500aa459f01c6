"""``AsyncClient.subscribe()`` on the process's shared event hub.

    async with client.subscribe(run_id) as events:     # listening from here on
        await client.start_flow(flow, input, run_id=run_id)
        async for event in events: ...                 # ends after run:completed / run:failed

    async for event in client.subscribe(): ...         # every run's events (tasks included)

All subscriptions of a process share the hub's single LISTEN connection. When that connection
had a gap, the iteration yields a :class:`~pgflow.live.Gap` (events may be missing: reload what
you keep); a one-run subscription then also ends if the run finished meanwhile.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

from pgflow.events import ALL_RUNS_CHANNEL, Event, ends_run, run_channel
from pgflow.live.markers import Gap, Item, RunFinished
from pgflow.live.run import hub_for, load_run
from pgflow.live.subscription import Subscription
from pgflow.ops.common import run_uuid


class EventFeed:
    """An async iterator (and async context manager) of typed events; see the module docstring."""

    def __init__(self, client: Any, run_id: UUID | str | None = None) -> None:
        self._client = client
        self.run_id = None if run_id is None else run_uuid(run_id)
        self.channel = ALL_RUNS_CHANNEL if self.run_id is None else run_channel(self.run_id)
        self._subscription: Subscription | None = None
        self._finished = False

    async def open(self) -> EventFeed:
        """Start listening (entering ``async with`` does this)."""
        if self._subscription is None:
            hub = await hub_for(self._client)
            self._subscription = await (
                hub.subscribe(self.run_id) if self.run_id is not None else hub.subscribe_all(tasks=True))
        return self

    async def close(self) -> None:
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            await subscription.close()

    async def __aenter__(self) -> EventFeed:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __aiter__(self) -> AsyncIterator[Item]:
        return self._items()

    async def _items(self) -> AsyncIterator[Item]:
        opened_here = self._subscription is None
        await self.open()
        try:
            while not self._finished and self._subscription is not None:
                item = await self._subscription.get()
                if item is None:
                    return
                if isinstance(item, RunFinished):
                    continue
                yield item
                if self.run_id is None:
                    continue
                if isinstance(item, Gap):
                    self._finished = (await load_run(self._client, self.run_id)).finished
                elif isinstance(item, Event) and ends_run(item):
                    self._finished = True
        finally:
            if opened_here:
                await self.close()
