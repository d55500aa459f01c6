"""One LISTEN connection per process, shared by every subscriber.

The database NOTIFYs every event twice: on ``pgflow:run:<run_id>`` and on ``pgflow:events``.
The hub holds a single ``psycopg.AsyncConnection`` that listens and fans each event out to
subscribers of one run, of all runs, or of all task events.

Which channels it listens on:

* While only single runs are followed (and at most ``max_run_channels`` of them), the hub
  LISTENs on each run's own channel. A process that follows a few runs in a busy database then
  receives only their events instead of every event of every run.
* As soon as someone follows all runs with their task events, or more than ``max_run_channels``
  runs are followed, the hub LISTENs on ``pgflow:events`` alone and routes by ``run_id``.
  PostgreSQL compares each notification with a listener's channels one by one, and each
  LISTEN/UNLISTEN costs a round trip, so thousands of run channels cost more than filtering.

Subscribers that want no task events (``subscribe(run_id, tasks=False)``,
``subscribe_all()``) are served from the channels without task events (``pgflow:run:<id>:steps``,
``pgflow:events:steps``) unless a channel with task events is listened on anyway: then a map's
thousands of task events are not even sent to this process while nobody in it wants them.

Switching between the two overlaps for a moment; an event that arrives on both channels is
delivered once (the hub remembers the last few thousand payloads).

``subscribe`` returns once the LISTEN is in effect: any transaction that commits after that is
delivered, so loading a snapshot *after* subscribing leaves no window in which an event can be
lost (an event may arrive twice: once in the snapshot, once as an event).

When the connection drops, the hub reconnects with exponential backoff, LISTENs again, and then
sends every subscriber a :class:`~pgflow.live.Gap`: events committed while it was away were not
delivered, so state must be reloaded. A subscriber whose queue overflows gets a ``Gap`` too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import weakref
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

import psycopg

from pgflow.db import query, translate_error
from pgflow.errors import ConfigurationError, DatabaseUnavailable, PgFlowError
from pgflow.events import ALL_RUNS_CHANNEL, ALL_RUNS_STEPS_CHANNEL, TaskEvent, ends_run, parse_event, run_channel
from pgflow.live.markers import Gap, Item, RunFinished
from pgflow.live.reader import NotifyReader
from pgflow.live.subscription import Subscription

log = logging.getLogger("pgflow.live")

_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, EventHub]] = weakref.WeakKeyDictionary()


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def _cancel_and_wait(*futures: asyncio.Future[Any] | None) -> None:
    """Cancel what the hub started and wait until it has ended, so nothing outlives the hub."""
    pending: set[asyncio.Future[Any]] = {f for f in futures if f is not None and not f.done()}
    for future in pending:
        future.cancel()
    if pending:
        await asyncio.wait(pending)  # never raises, so the caller's own cancellation is kept


class EventHub:
    """Shares one LISTEN connection among every subscriber of a process (per database).

    Use :meth:`shared` for the process-wide hub of a database, or create one and close it::

        hub = EventHub.shared(dsn)
        async with await hub.subscribe(run_id) as events:
            async for item in events:   # Event, RunFinished or Gap; ends after RunFinished
                ...
    """

    def __init__(
        self,
        conninfo: str,
        *,
        max_run_channels: int = 100,
        reconnect_delay: float = 0.1,
        max_reconnect_delay: float = 5.0,
        ping_interval: float = 30.0,
        ping_timeout: float = 10.0,
        subscribe_timeout: float = 10.0,
        auto_close: bool = False,
        connect_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.conninfo = conninfo
        self.connect_kwargs = dict(connect_kwargs or {})
        self.max_run_channels = max_run_channels
        self.reconnect_delay = reconnect_delay
        self.max_reconnect_delay = max_reconnect_delay
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.subscribe_timeout = subscribe_timeout
        self.auto_close = auto_close
        #: server process id of the LISTEN connection (None while disconnected)
        self.backend_pid: int | None = None
        #: how many times the connection was re-established after a loss
        self.reconnects = 0
        #: the last connection error, if any
        self.last_error: BaseException | None = None
        self._by_run: dict[UUID, set[Subscription]] = {}
        self._all: set[Subscription] = set()
        self._tasks: set[Subscription] = set()
        self._listening: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._wanted = 0
        self._synced = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._recent: deque[str] = deque(maxlen=4096)
        self._recent_set: set[str] = set()
        self._closed = False
        self._ever_connected = False

    # ----------------------------------------------------------------- sharing
    @classmethod
    def shared(cls, conninfo: str, **options: Any) -> EventHub:
        """The hub of this process (and event loop) for ``conninfo``; it closes its connection
        when its last subscription closes and connects again on the next ``subscribe``."""
        loop = asyncio.get_running_loop()
        hubs = _SHARED.setdefault(loop, {})
        hub = hubs.get(conninfo)
        if hub is None or hub._closed:
            hub = hubs[conninfo] = cls(conninfo, auto_close=True, **options)
        return hub

    # ----------------------------------------------------------- subscriptions
    @property
    def connected(self) -> bool:
        return self.backend_pid is not None

    @property
    def channels(self) -> frozenset[str]:
        """The channels the connection currently LISTENs on."""
        return frozenset(self._listening)

    async def subscribe(self, run_id: UUID | str, *, tasks: bool = True, callback: Callable[[Item], Any] | None = None,
                        maxsize: int = 10_000) -> Subscription:
        """Follow one run: its run, step and task events (without task events with
        ``tasks=False``), its ``RunFinished``, and gaps."""
        return await self._subscribe(Subscription(self._remove, "run", UUID(str(run_id)), tasks, callback, maxsize))

    async def subscribe_all(self, *, tasks: bool = False, callback: Callable[[Item], Any] | None = None,
                            maxsize: int = 10_000) -> Subscription:
        """Follow every run: run and step events (task events too with ``tasks=True``)."""
        return await self._subscribe(Subscription(self._remove, "runs", None, tasks, callback, maxsize))

    async def subscribe_tasks(self, *, callback: Callable[[Item], Any] | None = None,
                              maxsize: int = 10_000) -> Subscription:
        """Follow the task events (started, completed, failed) of every run, and gaps."""
        return await self._subscribe(Subscription(self._remove, "tasks", None, True, callback, maxsize))

    async def _subscribe(self, sub: Subscription) -> Subscription:
        if self._closed:
            raise PgFlowError("this EventHub is closed; use EventHub.shared(dsn) or create a new one")
        if sub.scope == "run":
            assert sub.run_id is not None
            self._by_run.setdefault(sub.run_id, set()).add(sub)
        else:
            (self._all if sub.scope == "runs" else self._tasks).add(sub)
        self._start()
        try:
            await self._sync_now()
        except BaseException:
            await self._remove(sub)
            raise
        return sub

    async def _remove(self, sub: Subscription) -> None:
        if sub.run_id is not None and sub.run_id in self._by_run:
            self._by_run[sub.run_id].discard(sub)
            if not self._by_run[sub.run_id]:
                del self._by_run[sub.run_id]
        self._all.discard(sub)
        self._tasks.discard(sub)
        if self.auto_close and not self._subscribers():
            await self._stop_connection()  # idle: the next subscribe connects again
        elif not self._closed:
            self._wanted += 1  # UNLISTEN lazily; stray events of the run are simply not routed
            self._poke()

    def _subscribers(self) -> list[Subscription]:
        return [s for subs in self._by_run.values() for s in subs] + list(self._all) + list(self._tasks)

    def _wanted_channels(self) -> set[str]:
        if self._tasks or any(s.include_tasks for s in self._all):
            return {ALL_RUNS_CHANNEL}
        with_tasks = {r for r, subs in self._by_run.items() if any(s.include_tasks for s in subs)}
        without = set() if self._all else set(self._by_run) - with_tasks  # pgflow:events:steps has them
        if len(with_tasks) + len(without) > self.max_run_channels:
            return {ALL_RUNS_CHANNEL} if with_tasks else {ALL_RUNS_STEPS_CHANNEL}
        wanted = {run_channel(r) for r in with_tasks} | {run_channel(r, tasks=False) for r in without}
        return wanted | ({ALL_RUNS_STEPS_CHANNEL} if self._all else set())

    # --------------------------------------------------------------- lifecycle
    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._listening = set()
            self._ever_connected = False
            self._task = asyncio.get_running_loop().create_task(self._main(), name="pgflow-event-hub")

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _sync_now(self) -> None:
        """Ask the connection to LISTEN on what subscribers need, and wait until it does."""
        self._wanted += 1
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((self._wanted, future))
        self._poke()
        try:
            await asyncio.wait_for(future, self.subscribe_timeout)
        except asyncio.TimeoutError:
            self._waiters = [(v, f) for v, f in self._waiters if f is not future]
            raise DatabaseUnavailable(
                f"pgflow's event hub could not LISTEN within {self.subscribe_timeout:g} s "
                f"(last error: {self.last_error or 'none'}); check that the database is reachable "
                f"with the same URL as the client"
            ) from None

    async def close(self) -> None:
        """Stop listening, close the connection, and end every subscription's iteration."""
        if self._closed:
            return
        self._closed = True
        for sub in self._subscribers():
            sub._end()
        self._by_run.clear()
        self._all.clear()
        self._tasks.clear()
        await self._stop_connection()
        for _, future in self._waiters:
            if not future.done():
                future.cancel()
        self._waiters.clear()

    async def _stop_connection(self) -> None:
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.wait({task})  # never raises: the caller's own cancellation is kept

    async def __aenter__(self) -> EventHub:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------- connection
    async def _main(self) -> None:
        delay = self.reconnect_delay
        lost_at: datetime | None = None
        try:
            conninfo = _listen_conninfo(self.conninfo)
        except ConfigurationError as exc:  # behind a pooler without a direct URL: say so, at once
            self.last_error = exc
            self._fail_waiters(exc)
            return
        while not self._closed and self._task is asyncio.current_task():
            try:
                options = {**self.connect_kwargs, "autocommit": True}
                conn = await psycopg.AsyncConnection.connect(conninfo, **options)
            except (psycopg.Error, OSError) as exc:
                self.last_error = exc
                if not self._ever_connected:
                    self._fail_waiters(exc)  # never connected: a wrong URL should fail at once
                log.warning("pgflow event hub: cannot connect (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, self.max_reconnect_delay)
                continue
            try:
                self._listening = set()
                await self._sync(conn)
                self.backend_pid = conn.info.backend_pid
                self._ever_connected = True
                if lost_at is not None:
                    self.reconnects += 1
                    log.info("pgflow event hub: listening again; telling subscribers to resync")
                    self._broadcast(Gap("reconnected", since=lost_at, resumed_at=_now()))
                lost_at, delay = None, self.reconnect_delay
                await self._pump(conn)
            except (psycopg.Error, OSError, asyncio.TimeoutError) as exc:
                self.last_error = exc
                if self.backend_pid is not None:
                    lost_at = _now()
                    log.warning("pgflow event hub: lost the LISTEN connection (%s); reconnecting", exc)
            finally:
                if self._task in (None, asyncio.current_task()):  # not replaced by a restart
                    self.backend_pid = None
                with contextlib.suppress(Exception):
                    await conn.close()

    def _fail_waiters(self, exc: BaseException) -> None:
        error = translate_error(exc)
        if not isinstance(error, DatabaseUnavailable):
            error = DatabaseUnavailable(f"pgflow's event hub cannot connect to the database: {exc}")
        for _, future in self._waiters:
            if not future.done():
                future.set_exception(error)
        self._waiters = []

    async def _sync(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """LISTEN on the wanted channels, UNLISTEN the others, in one round trip."""
        version = self._wanted
        wanted = self._wanted_channels()
        added, removed = sorted(wanted - self._listening), sorted(self._listening - wanted)
        if added or removed:
            await conn.execute(query("live_sync_channels"), {"add": added, "remove": removed})
        if added:
            # events are sent only to subscribed channels: wait for the transactions that may
            # have decided not to notify before the subscription committed
            cur = await conn.execute(query("live_await_event_writers"), {"timeout": self.subscribe_timeout / 2})
            row = await cur.fetchone()
            if not (row and row[0]):
                log.warning("pgflow event hub: a transaction that may change runs is still open after %.1f s "
                            "(idle in transaction?); its changes may arrive without events", self.subscribe_timeout / 2)
        self._listening = wanted
        self._synced = max(self._synced, version)
        still = []
        for wanted_version, future in self._waiters:
            if wanted_version <= self._synced:
                if not future.done():
                    future.set_result(None)
            else:
                still.append((wanted_version, future))
        self._waiters = still

    async def _pump(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Read notifications until asked to change channels; then change them and go on."""
        assert self._wake is not None
        waker: asyncio.Task[bool] | None = None  # self._wake.wait(), made only right before waiting
        reader: NotifyReader | None = None
        try:
            while not self._closed:
                if self._wake.is_set():
                    if reader is not None:
                        await self._stop_reading(reader)
                        reader = None
                    self._wake.clear()
                    await self._sync(conn)
                    continue
                if reader is None:
                    reader = NotifyReader(conn)
                if reader.pending:
                    # one per turn of the event loop: every subscriber's task runs between two events
                    self._dispatch(reader.pending.popleft())
                    await asyncio.sleep(0)
                    continue
                if waker is None or waker.done():
                    waker = asyncio.ensure_future(self._wake.wait())
                watched: set[asyncio.Future[Any]] = {reader.task, reader.arrival(), waker}
                done, _ = await asyncio.wait(watched, timeout=self.ping_interval, return_when=asyncio.FIRST_COMPLETED)
                if reader.task in done and not reader.pending:  # only a lost connection ends the reading
                    reader.task.result()
                    reader = None
                elif not done:  # quiet for a while: make sure the connection is alive
                    await self._stop_reading(reader)
                    reader = None
                    await asyncio.wait_for(conn.execute(query("live_ping")), self.ping_timeout)
        finally:
            await _cancel_and_wait(waker, None if reader is None else reader.task)

    async def _stop_reading(self, reader: NotifyReader) -> None:
        """Stop the reader and route what it received before (even when the connection was lost)."""
        try:
            await reader.stop()
        finally:
            while reader.pending:
                self._dispatch(reader.pending.popleft())

    # ---------------------------------------------------------------- routing
    def _dispatch(self, notify: psycopg.Notify) -> None:
        payload = notify.payload
        if payload in self._recent_set:
            return
        if len(self._recent) == self._recent.maxlen:
            self._recent_set.discard(self._recent[0])
        self._recent.append(payload)
        self._recent_set.add(payload)
        try:
            event = parse_event(payload)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("pgflow event hub: ignoring an unreadable event on %s (%s): %.200s",
                        notify.channel, exc, payload)
            return
        self.publish(event)
        if ends_run(event):
            self.publish(RunFinished.from_event(event))

    def publish(self, item: Item) -> None:
        """Deliver an event to this process's matching subscribers (as if it came from NOTIFY)."""
        if isinstance(item, Gap):
            self._broadcast(item)
            return
        is_task = isinstance(item, TaskEvent)
        for sub in list(self._by_run.get(item.run_id, ())):
            if sub.include_tasks or not is_task:
                sub._deliver(item)
        for sub in list(self._all):
            if sub.include_tasks or not is_task:
                sub._deliver(item)
        if is_task:
            for sub in list(self._tasks):
                sub._deliver(item)

    def _broadcast(self, gap: Gap) -> None:
        for sub in self._subscribers():
            sub._deliver(gap)


def _listen_conninfo(conninfo: str) -> str:
    """The direct connection to LISTEN on (PGFLOW_DIRECT_URL when ``conninfo`` goes through a pooler)."""
    from pgflow.db.dsn import DIRECT_URL_VAR, listen_conninfo

    direct = listen_conninfo(conninfo)
    if direct is None:
        raise ConfigurationError(
            "live events need LISTEN, which does not work through a transaction-mode connection pooler: "
            f"set {DIRECT_URL_VAR} to a direct connection to the database")
    return direct
