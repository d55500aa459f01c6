"""``LiveRun``: a run with its step states, kept up to date from the database's events.

    async with await LiveRun.open(client, run_id) as live:
        async for change in live:            # the snapshot first, then every change
            print(change.run.status, [s.status for s in change.run.step_states])
        # the iteration ends once the run has finished

    live = await LiveRun.open(client, run_id)
    run = await live.wait_for("completed", timeout=60)   # RunFailed / RunTimeout otherwise

``open`` subscribes to the run's events *first* and loads the snapshot (``get_run_with_states``)
*after*, so no event can fall between the two; events that arrive while the snapshot loads are
applied on top of it. Applying is idempotent and moves statuses only forward
(:mod:`pgflow.live.state`), so duplicates and out-of-order events are harmless.

The run is reloaded from the database when the hub reports a :class:`~pgflow.live.Gap`, when an
event's large fields were truncated, and once when the run finishes (so fields that events do
not carry end exact). After that last reload the live run reports a ``"finished"`` change whose
event is a :class:`~pgflow.live.RunFinished` listing the failed steps.

With ``reload_on_finish="unknown"`` the live run reads back only what the events left unknown
(:meth:`RunState.unknown <pgflow.live.index.RunState.unknown>`: truncated fields, tasks first
seen in an event, a failed run's steps), for a truncated event as well as at the end, and
reports ``"finished"`` without any query when nothing is unknown: the end of a 10,000-task map
followed from its start costs no reading of its 10,000 tasks. The final state is the same.

With ``tasks=False`` (or :meth:`LiveRun.follow_tasks`) the live run follows run and step events
only: the database does not send it task events, and its tasks stay as the last reading showed
them (a step that ends ends its open tasks); follow them again and it reloads the run.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from pgflow.db import ClientOperation, Query, Snapshot
from pgflow.db.pools import connect_args
from pgflow.errors import InvalidInput, PgFlowError, RunFailed, RunNotFound, RunTimeout
from pgflow.events import Event
from pgflow.live.hub import EventHub
from pgflow.live.index import RunState
from pgflow.live.markers import Gap, Item, RunFinished
from pgflow.models import Run, RunStatus, StepState, StepTask
from pgflow.ops.runs import run_status_of

log = logging.getLogger("pgflow.live")

WAITABLE = (*(s.value for s in RunStatus), "finished")

#: how many changes wait for a slow ``async for`` loop before they are coalesced into one
CHANGE_BUFFER = 1_000


@dataclass(frozen=True)
class Change:
    """One change of a live run.

    ``kind`` is ``"snapshot"`` (the state when you started looking), ``"event"`` (``event``
    changed the run), ``"resync"`` (reloaded after a gap or a truncated event) or ``"finished"``
    (the run's final state; ``event`` is a :class:`RunFinished`). ``run`` is the state after it.
    """

    kind: str
    run: Run
    event: Item | None = None


async def hub_for(client: Any) -> EventHub:
    """The process's shared hub for the database ``client`` (a Client or AsyncClient) uses."""
    source = getattr(client, "_conninfo", None)
    if source is not None and inspect.iscoroutinefunction(source):
        conninfo, kwargs = await source()
    else:
        await asyncio.to_thread(client.open)
        conninfo, kwargs = (client._dsn, {}) if client._dsn else await connect_args(client._pool)
    kwargs = {k: v for k, v in kwargs.items() if k != "autocommit"}
    return EventHub.shared(conninfo, connect_kwargs=kwargs or None)


async def load_run(client: Any, run_id: UUID) -> Run:
    """``client.get_run_with_states(run_id)`` for an AsyncClient, or in a thread for a Client."""
    result = client.get_run_with_states(run_id) if _is_async(client) else None
    if result is None:
        return await asyncio.to_thread(client.get_run_with_states, run_id)
    return await result


async def load_parts(client: Any, run_id: UUID, head: bool,
                     tasks: dict[str, list[int]]) -> tuple[Run | None, list[StepTask]]:
    """The run's row with its step rows (when ``head``) and the listed tasks, from one snapshot."""
    op = _parts(run_id, head, tasks)
    if _is_async(client):
        return await client._run(op)
    return await asyncio.to_thread(client._run, op)


def _parts(run_id: UUID, head: bool, tasks: dict[str, list[int]]) -> ClientOperation[tuple[Run | None, list[StepTask]]]:
    slugs = [slug for slug, indexes in tasks.items() for _ in indexes]
    indexes = [index for found in tasks.values() for index in found]
    queries = [Query.all("live_tasks_of_run", run_id=run_id, step_slugs=slugs, task_indexes=indexes)] if slugs else []
    if head:
        queries += [Query.one("client_select_run", run_id=run_id), Query.all("client_select_step_states", run_id=run_id)]
    rows = list((yield Snapshot(tuple(queries))))
    task_rows = rows.pop(0) if slugs else []
    run = None
    if head:
        if rows[0] is None:
            raise RunNotFound(run_id)
        run = Run.from_row(rows[0], tuple(StepState.from_row(r) for r in rows[1]))
    return run, [StepTask.from_row(r) for r in task_rows]


def _is_async(client: Any) -> bool:
    return inspect.iscoroutinefunction(getattr(type(client), "_run", None))


class LiveRun:
    """A run kept current from events. Create it with :meth:`open` (or construct and ``start``)."""

    def __init__(self, client: Any, run_id: UUID | str, *, hub: EventHub | None = None,
                 on_change: Callable[[Change], Any] | None = None, reload_on_finish: bool | str = True,
                 tasks: bool = True) -> None:
        self.client = client
        self.run_id = UUID(str(run_id))
        self.hub = hub
        self.reload_on_finish = reload_on_finish
        #: whether task events are followed (see :meth:`follow_tasks`)
        self.tasks = tasks
        self._state: RunState | None = None
        self._buffer: list[Item] | None = None
        self._subscription: Any = None
        self._callbacks: list[Callable[[Change], Any]] = [on_change] if on_change else []
        self._queues: list[_Changes] = []
        self._listeners: list[Callable[[str, Item | None], Any]] = []
        self._changed = asyncio.Event()
        self._finished: RunFinished | None = None
        self._reload_reasons: set[str] = set()
        self._reload_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    @classmethod
    async def open(cls, client: Any, run_id: UUID | str, **options: Any) -> LiveRun:
        """Subscribe to the run's events, then load its snapshot; returns the started LiveRun."""
        live = cls(client, run_id, **options)
        await live.start()
        return live

    async def start(self) -> LiveRun:
        """Subscribe first, then load the snapshot and apply what arrived meanwhile."""
        if self.hub is None:
            self.hub = await hub_for(self.client)
        self._buffer = []
        self._subscription = await self.hub.subscribe(self.run_id, tasks=self.tasks, callback=self._receive)
        try:
            snapshot = await load_run(self.client, self.run_id)
        except BaseException:
            await self._subscription.close()
            raise
        self._install(snapshot, "snapshot")
        return self

    async def follow_tasks(self, tasks: bool = True) -> None:
        """Follow the run's task events (``True``) or only its run and step events (``False``).

        Without task events the database does not even send them to this process (a map's
        thousands of task events cost nothing here), run and step states stay current, and the
        tasks are as the last reading left them: their counts per status come from
        ``get_run``'s tasks or your own reading, not from this state. Following them again
        subscribes first and then reloads the run, so nothing that happened meanwhile is missed.
        """
        if tasks == self.tasks or self._closed or self._subscription is None:
            return
        assert self.hub is not None
        subscription = await self.hub.subscribe(self.run_id, tasks=tasks, callback=self._receive)
        previous, self._subscription, self.tasks = self._subscription, subscription, tasks
        await previous.close()  # an event delivered by both is applied once (applying is idempotent)
        if tasks:
            await self.refresh()

    # ------------------------------------------------------------------- state
    @property
    def run(self) -> Run:
        """The current state of the run (a new frozen ``Run`` after every change)."""
        if self._state is None:
            raise PgFlowError("this LiveRun has not loaded its run yet; use `await LiveRun.open(client, run_id)`")
        return self._state.to_run()

    @property
    def state(self) -> RunState:
        """The indexed state behind :attr:`run` (reading it builds no ``Run``)."""
        if self._state is None:
            raise PgFlowError("this LiveRun has not loaded its run yet; use `await LiveRun.open(client, run_id)`")
        return self._state

    @property
    def status(self) -> str:
        return self.run.status

    @property
    def finished(self) -> bool:
        """True once the run is completed or failed and its final state has been loaded."""
        return self._finished is not None

    def step(self, step_slug: str) -> Any:
        """The current state of one step (``KeyError`` names the known steps)."""
        return self.run.step(step_slug)

    def apply(self, item: Item) -> bool:
        """Apply an event delivered by other means; returns True when it changed the run."""
        if self._buffer is not None:
            self._buffer.append(item)
            return False
        return self._handle(item)

    def _receive(self, item: Item) -> None:
        self.apply(item)

    def _handle(self, item: Item) -> bool:
        if isinstance(item, Gap):
            self._reload("resync")
            return False
        state = self._state
        if state is None or not isinstance(item, Event) or isinstance(item, RunFinished):
            return False
        was_finished = state.finished
        if not state.apply(item):
            return False
        self._emit("event", item)
        if item.truncated:  # its large fields were left out of the NOTIFY payload
            self._reload("unknown" if self.reload_on_finish == "unknown" else "resync")
        if state.finished and not was_finished:
            if self.reload_on_finish:
                self._reload("finished")
            else:
                self._finish()
        return True

    def _install(self, snapshot: Run, kind: str) -> None:
        buffered, self._buffer = self._buffer or [], None
        self._state = RunState(snapshot)
        self._emit(kind)
        for item in buffered:
            self._handle(item)
        if self._state.finished and self._finished is None and not self._reload_reasons:
            self._finish()

    def _install_parts(self, run: Run | None, tasks: list[StepTask]) -> None:
        """Apply a reading of what was unknown (:func:`load_parts`), then what arrived meanwhile."""
        assert self._state is not None
        buffered, self._buffer = self._buffer or [], None
        if run is not None or tasks:
            self._state.merge(run, tasks)
            self._emit("resync")
        for item in buffered:
            self._handle(item)
        if self._state.finished and self._finished is None and not self._reload_reasons:
            self._finish()

    def _finish(self) -> None:
        self._finished = RunFinished.from_run(self.run)
        self._emit("finished", self._finished)
        for queue in self._queues:
            queue.end()

    # ------------------------------------------------------------------ reload
    def _reload(self, reason: str) -> None:
        self._reload_reasons.add(reason)
        if self._reload_task is None or self._reload_task.done():
            self._reload_task = asyncio.get_running_loop().create_task(self._reload_loop())

    async def refresh(self) -> Run:
        """Reload the run from the database now (events arriving meanwhile are kept)."""
        self._reload("resync")
        assert self._reload_task is not None
        await asyncio.shield(self._reload_task)
        return self.run

    async def _reload_loop(self) -> None:
        delay = 0.1
        while self._reload_reasons and not self._closed:
            reasons, self._reload_reasons = self._reload_reasons, set()
            partial = self.reload_on_finish == "unknown" and "resync" not in reasons and self._state is not None
            head, tasks = self._state.unknown() if partial and self._state is not None else (True, {})
            if not self.tasks:
                tasks = {}  # tasks are not followed: their state is that of the last reading anyway
            if partial and not head and not tasks:
                self._install_parts(None, [])  # the events told everything: no reading at all
                continue
            self._buffer = []
            try:
                if partial:
                    self._install_parts(*await load_parts(self.client, self.run_id, head, tasks))
                    continue
                snapshot = await load_run(self.client, self.run_id)
            except PgFlowError as exc:
                buffered, self._buffer = self._buffer, None
                for item in buffered:
                    self._handle(item)
                if delay > 5:
                    log.error("pgflow LiveRun %s: giving up reloading the run: %s", self.run_id, exc)
                    return
                log.warning("pgflow LiveRun %s: reloading failed (%s); retrying in %.1f s", self.run_id, exc, delay)
                self._reload_reasons |= reasons
                await asyncio.sleep(delay)
                delay *= 2
                continue
            self._install(snapshot, "resync")

    # ---------------------------------------------------------------- changes
    def on_change(self, callback: Callable[[Change], Any]) -> Callable[[], None]:
        """Call ``callback(change)`` after each change (a coroutine function is scheduled).
        Returns a function that removes the callback."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None

    def listen(self, listener: Callable[[str, Item | None], Any]) -> Callable[[], None]:
        """Call ``listener(kind, event)`` after each change, without building a ``Run`` for it
        (read :attr:`state` or :attr:`run` when needed): the cheap way to follow a big run.
        Returns a function that removes the listener."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, kind: str, event: Item | None = None) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
        for listener in list(self._listeners):
            try:
                listener(kind, event)
            except Exception:
                log.exception("pgflow LiveRun %s: a listener raised", self.run_id)
        if not self._queues and not self._callbacks:
            return
        change = Change(kind, self.run, event)
        for queue in self._queues:
            queue.put(change, self._state)
        for callback in list(self._callbacks):
            try:
                result = callback(change)
            except Exception:
                log.exception("pgflow LiveRun %s: an on_change callback raised", self.run_id)
                continue
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def wait_until(self, predicate: Callable[[Run], bool], timeout: float | None = None) -> Run:
        """Wait until ``predicate(run)`` is true; returns the run. RunTimeout after ``timeout`` s."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not predicate(self.run):
            if self._closed:
                raise PgFlowError(f"LiveRun {self.run_id} was closed while waiting")
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                raise RunTimeout(self.run_id, timeout or 0.0, self.run)
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                raise RunTimeout(self.run_id, timeout or 0.0, self.run) from None
        return self.run

    async def wait_for(self, status: str = "completed", timeout: float | None = None) -> Run:
        """Wait until the run is ``status`` ("started" or "running", "completed", "failed" or "finished").

        Terminal statuses return the final state (reloaded from the database). Waiting for
        "completed" raises RunFailed when the run fails; waiting for "failed" raises PgFlowError
        when it completes; RunTimeout when ``timeout`` seconds pass first.
        """
        status = run_status_of(status)
        if status not in WAITABLE:
            raise InvalidInput(f"wait_for takes one of {', '.join(WAITABLE)}, not {status!r}")
        if status == RunStatus.STARTED:
            return self.run
        run = await self.wait_until(lambda _: self._finished is not None, timeout)
        if status == RunStatus.COMPLETED and run.status == RunStatus.FAILED:
            raise RunFailed(run)
        if status == RunStatus.FAILED and run.status == RunStatus.COMPLETED:
            raise PgFlowError(f"run {run.run_id} completed instead of failing")
        return run

    def __aiter__(self) -> AsyncIterator[Change]:
        return self._changes()

    async def _changes(self) -> AsyncIterator[Change]:
        if self._finished is not None:
            yield Change("finished", self.run, self._finished)
            return
        queue = _Changes(CHANGE_BUFFER)
        self._queues.append(queue)
        try:
            yield Change("snapshot", self.run)
            while (change := await queue.get()) is not None:
                yield change
        finally:
            self._queues.remove(queue)

    # ------------------------------------------------------------------ close
    async def close(self) -> None:
        """Stop following the run (its last state stays readable)."""
        if self._closed:
            return
        self._closed = True
        for queue in self._queues:
            queue.end()
        self._changed.set()
        if self._reload_task is not None and not self._reload_task.done():
            self._reload_task.cancel()
            await asyncio.wait({self._reload_task})
        if self._subscription is not None:
            await self._subscription.close()

    async def __aenter__(self) -> LiveRun:
        if self._state is None:
            await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()



class _Changes:
    """The changes waiting for one ``async for`` loop: at most ``maxsize``; a loop that falls
    further behind gets one ``"resync"`` change with the current run instead of the backlog."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.items: deque[Change | None] = deque()
        self.ready = asyncio.Event()

    def put(self, change: Change, state: RunState | None) -> None:
        if len(self.items) >= self.maxsize and state is not None:
            self.items.clear()
            if change.kind != "finished":
                change = Change("resync", state.to_run())
        self.items.append(change)
        self.ready.set()

    def end(self) -> None:
        self.items.append(None)
        self.ready.set()

    async def get(self) -> Change | None:
        while not self.items:
            self.ready.clear()
            await self.ready.wait()
        return self.items.popleft()
