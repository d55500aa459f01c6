"""The ``notify`` signal: one LISTEN connection per worker process for all its queues.

pgmq's ``enable_notify_insert(queue, throttle_ms)`` adds a trigger that sends
``NOTIFY "pgmq.q_<queue>.INSERT"`` when messages are inserted (at most once per throttle
window, delivered on commit). The listener turns each notification into a read of that queue.
If the connection drops it reconnects with backoff and makes every queue due, since
notifications sent meanwhile are lost; the poller's fallback interval covers the rest.

Behind a transaction-mode pooler LISTEN does not work (the session that listens is handed to other
clients between transactions): :func:`listen_database` gives the listener a connection to
``PGFLOW_DIRECT_URL`` instead, or None when there is none, and the worker then polls.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import psycopg
from psycopg import sql

from pgflow.db import MAX_BACKOFF, Database, is_transient
from pgflow.db.dsn import DIRECT_URL_VAR, listen_conninfo
from pgflow.worker.poller import wait_any

log = logging.getLogger("pgflow.worker")


def insert_channel(queue_name: str) -> str:
    """The channel pgmq notifies for inserts into ``queue_name`` (its table name is lower-cased)."""
    return f"pgmq.q_{queue_name.lower()}.INSERT"


def listen_database(db: Database) -> Database | None:
    """Where the listener connects: ``db`` itself, a direct connection when ``db``'s URL goes
    through a pooler, or None (logged once: the worker polls) when no direct URL is configured."""
    target = listen_conninfo(db.conninfo)
    if target is None:
        log.warning("the database URL goes through a connection pooler, where LISTEN does not work: polling "
                    "for new tasks instead; set %s to a direct connection to be notified", DIRECT_URL_VAR)
        return None
    return db if target == db.conninfo else Database(target, size=1, application_name=db.application_name)


class Listener:
    def __init__(
        self,
        db: Database,
        queues: dict[str, int],
        on_notify: Callable[[str, int], None],
        on_connected: Callable[[], None],
        stop: asyncio.Event,
    ) -> None:
        """``queues`` maps each queue name to its notification throttle in milliseconds."""
        self._db = db
        self._channels = {insert_channel(name): name for name in queues}
        self._throttle = dict(queues)
        self._on_notify = on_notify
        self._on_connected = on_connected
        self._stop = stop
        self.connected = asyncio.Event()

    async def run(self) -> None:
        delay = 0.1
        while not self._stop.is_set():
            try:
                conn = await self._db.connect()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                await wait_any(asyncio.Event(), self._stop, timeout=delay)
                delay = min(delay * 2, MAX_BACKOFF)
                continue
            try:
                for channel in self._channels:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                delay = 0.1
                self.connected.set()
                self._on_connected()
                await self._receive(conn)
            except psycopg.Error as exc:
                if not is_transient(exc):
                    raise
                log.debug("the LISTEN connection was lost (%s); reconnecting", exc)
            finally:
                self.connected.clear()
                try:
                    await conn.close()
                except Exception:  # noqa: S110 - already broken
                    pass

    async def _receive(self, conn: psycopg.AsyncConnection) -> None:
        while not self._stop.is_set():
            async for notify in conn.notifies(timeout=1.0):
                queue = self._channels.get(notify.channel)
                if queue is not None:
                    self._on_notify(queue, self._throttle[queue])
                if self._stop.is_set():
                    return
