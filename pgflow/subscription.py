"""``AsyncClient.subscribe``: typed events from the database's NOTIFY channels.

A simple implementation with one dedicated connection per subscription; the realtime part
(:mod:`pgflow.live`) may route it through a shared listener later without changing the API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from uuid import UUID

import psycopg

from pgflow.events import ALL_RUNS_CHANNEL, Event, parse_event, run_channel
from pgflow.ops.common import run_uuid
from pgflow.ops.driver import listen, translate_error

ConninfoSource = Callable[[], Awaitable[tuple[str, dict[str, Any]]]]


class Subscription:
    """An async iterator of :class:`pgflow.events.Event`; an async context manager too.

    Entering ``async with`` starts listening, so a run started inside the block cannot miss
    its first event. Iterating without ``async with`` starts listening at the first ``async for``.
    A one-run subscription stops after that run's ``run:completed`` / ``run:failed``.
    """

    def __init__(self, conninfo: ConninfoSource, run_id: UUID | str | None = None) -> None:
        self._conninfo = conninfo
        self.run_id = None if run_id is None else run_uuid(run_id)
        self.channel = ALL_RUNS_CHANNEL if self.run_id is None else run_channel(self.run_id)
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._finished = False

    async def open(self) -> Subscription:
        if self._conn is None:
            conninfo, kwargs = await self._conninfo()
            kwargs["autocommit"] = True
            try:
                self._conn = await psycopg.AsyncConnection.connect(conninfo, **kwargs)
                query = listen(self.channel)
                await self._conn.execute(query.text)
            except psycopg.Error as exc:
                await self.close()
                raise translate_error(exc) from exc
        return self

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def __aenter__(self) -> Subscription:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def _events(self) -> AsyncIterator[Event]:
        opened_here = self._conn is None
        await self.open()
        assert self._conn is not None
        try:
            while not self._finished:
                async for notify in self._conn.notifies():
                    try:
                        event = parse_event(notify.payload)
                    except (ValueError, KeyError):  # an event type this version does not know
                        continue
                    yield event
                    if self.run_id is not None and event.event_type in ("run:completed", "run:failed"):
                        self._finished = True
                        break
        except psycopg.Error as exc:
            raise translate_error(exc) from exc
        finally:
            if opened_here:
                await self.close()
