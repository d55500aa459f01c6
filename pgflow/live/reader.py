"""Reading a connection's notifications in a way that can be paused to run commands."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import psycopg


class NotifyReader:
    """A task that collects the notifications of ``conn.notifies()`` in :attr:`pending`.

    psycopg yields a received batch of notifications one by one without waiting, so the task
    takes a whole batch in one turn of the event loop (no task per notification), and it is
    suspended only while it waits for the server. Stopping it (cancelling it there) therefore
    never drops the rest of a batch, as closing the generator in the middle of one would; what
    it collected stays in ``pending``.
    """

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        #: received and not taken yet, oldest first
        self.pending: deque[psycopg.Notify] = deque()
        self._arrival: asyncio.Future[None] | None = None
        self.task: asyncio.Task[None] = asyncio.ensure_future(self._read(conn))

    async def _read(self, conn: psycopg.AsyncConnection[Any]) -> None:
        async for notify in conn.notifies():
            self.pending.append(notify)
            if self._arrival is not None and not self._arrival.done():
                self._arrival.set_result(None)

    def arrival(self) -> asyncio.Future[None]:
        """A future that is done once a notification is pending."""
        self._arrival = asyncio.get_running_loop().create_future()
        if self.pending:
            self._arrival.set_result(None)
        return self._arrival

    async def stop(self) -> None:
        """Stop reading (``pending`` keeps what came); raises what ended the reading before (a
        lost connection)."""
        self.task.cancel()
        await asyncio.wait({self.task})  # never raises, so the caller's own cancellation is kept
        error = None if self.task.cancelled() else self.task.exception()
        if error is not None:
            raise error
