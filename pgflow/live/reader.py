"""Reading a connection's notifications in a way that can be paused to run commands."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import psycopg


class NotifyReader:
    """One pass of ``conn.notifies()``, stoppable without losing a notification.

    psycopg yields a batch of notifications one by one; closing the generator in the middle of
    a batch would drop the rest. The reader therefore only cancels a ``next`` that is waiting
    for the server (a batch never waits), and hands over anything received before.
    """

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._gen = conn.notifies()
        self._entered = False
        self.next: asyncio.Future[psycopg.Notify] = self._schedule()

    def _schedule(self) -> asyncio.Future[psycopg.Notify]:
        self._entered = False
        return asyncio.ensure_future(self._read())

    async def _read(self) -> psycopg.Notify:
        self._entered = True
        return await self._gen.__anext__()

    def take(self) -> psycopg.Notify:
        notify = self.next.result()  # a lost connection raises here
        self.next = self._schedule()
        return notify

    async def stop(self, dispatch: Callable[[psycopg.Notify], None]) -> None:
        for _ in range(10_000):  # bounded: every batch is finite
            if not self._entered:
                await asyncio.sleep(0)
                continue
            if self.next.done():
                dispatch(self.take())
                continue
            break
        self.next.cancel()
        await asyncio.wait({self.next})  # never raises, so the caller's own cancellation is kept
