"""Many viewers of one run for the cost of one: the shared state behind the one-run SSE stream.

Every viewer of a run (a browser tab on ``/runs/<id>``) used to keep its own ``LiveRun`` and an
unbounded queue; a 10,000-item map cost each viewer quadratic CPU and a viewer that stopped
reading grew the process without bound. Here:

* :class:`SharedRuns` keeps **one** :class:`~pgflow.live.LiveRun` per run for all its viewers
  (its :class:`~pgflow.live.index.RunState` applies an event in O(1)), encodes each event's
  JSON once for everybody, and each snapshot once per state version (off the event loop).
* A :class:`Viewer` holds at most ``maxsize`` messages (default :data:`VIEWER_BUFFER`). A viewer
  that falls further behind drops its backlog and is sent **one fresh snapshot** instead: the
  current state, which contains every change the dropped messages made. Memory per stalled
  viewer is therefore bounded by ``maxsize`` queued references to shared event texts (each at
  most one NOTIFY payload, 8,000 bytes), plus the one snapshot its connection may be writing.
* A viewer in ``"progress"`` mode does not receive task events at all: it receives each map
  step's task counts (``step:progress``) at most every ``progress_interval`` seconds, and its
  snapshots carry ``task_counts`` per step instead of the tasks. That is what a dashboard page
  needs, and it costs the same for a 10-item and a 10,000-item map.
* The shared run follows task events only while some viewer is sent them: a ``"tasks"`` viewer
  that is not behind. With only progress viewers, or while every ``"tasks"`` viewer has fallen
  behind (its snapshot is due anyway), it follows run and step events alone
  (:meth:`LiveRun.follow_tasks <pgflow.live.LiveRun.follow_tasks>`), so the database does not
  send this process the map's task events at all; progress viewers then get counts read from the
  table (``live_task_counts``: one grouped count, at most once per ``progress_interval`` while a
  step is started, and once at the end before ``run:finished``). A ``"tasks"`` viewer that
  arrives or reads again makes it follow task events again, and its snapshot comes from a
  reading made after that, so it misses nothing.

Large fields (``input``, ``output``, ``error_message``) longer than ``field_limit`` bytes of
JSON are left out of snapshots: the value becomes ``null`` and the object gets
``"truncated": {"<field>": <bytes>}``. Read them with ``client.get_run_with_states``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections import deque
from typing import Any
from uuid import UUID

from pgflow.db import Query
from pgflow.errors import PgFlowError
from pgflow.events import TaskEvent
from pgflow.live.hub import EventHub, _cancel_and_wait
from pgflow.live.markers import Item
from pgflow.live.run import LiveRun, _is_async
from pgflow.live.state import jsonable, remaining_tasks
from pgflow.models import Run, StepStatus, TaskStatus

log = logging.getLogger("pgflow.live")

#: messages waiting for one viewer before it gets a fresh snapshot instead of its backlog
VIEWER_BUFFER = 1_000
#: bytes of JSON above which a snapshot leaves a field out (``truncated``)
FIELD_LIMIT = 16_384
LARGE_FIELDS = ("input", "output", "error_message")
MODES = ("tasks", "progress")


def dumps(data: Any) -> str:
    return json.dumps(data, default=str, separators=(",", ":"))


def _fields(obj: Any, skip: str, limit: int) -> dict[str, Any]:
    data = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.name != skip}
    truncated = {}
    for name in LARGE_FIELDS:
        value = data.get(name)
        if value is None or (isinstance(value, str) and len(value) <= limit // 4):
            continue
        size = len(dumps(jsonable(value)).encode())
        if size > limit:
            data[name] = None
            truncated[name] = size
    data = jsonable(data)
    if truncated:
        data["truncated"] = truncated
    return data


def encode_run(run: Run, progress: dict[str, dict[str, Any]] | None = None, limit: int = FIELD_LIMIT) -> str:
    """A run's snapshot JSON, large fields capped; with ``progress`` (progress mode: each step's
    ``step:progress`` payload) each step carries ``task_counts`` instead of its tasks."""
    data = _fields(run, "step_states", limit)
    steps = []
    for step in run.step_states:
        entry = _fields(step, "tasks", limit)
        if progress is None:
            entry["tasks"] = [_fields(task, "", limit) for task in step.tasks]
        else:
            entry["tasks"] = []
            known = progress.get(step.step_slug)
            entry["task_counts"] = known["tasks"] if known else {}
            if known:
                entry["remaining_tasks"] = known["remaining_tasks"]
        steps.append(entry)
    data["step_states"] = steps
    return dumps(data)


def capped_payload(raw: dict[str, Any], limit: int = FIELD_LIMIT) -> str:
    """An event payload as JSON with its large fields capped like a snapshot's."""
    text = dumps(raw)
    if len(text) <= limit:
        return text
    data = dict(raw)
    truncated = {}
    for name in LARGE_FIELDS:
        if data.get(name) is not None and len(size := dumps(data[name])) > limit:
            data[name] = None
            truncated[name] = len(size)
    if truncated:
        data["truncated"] = truncated
    return dumps(data)


class Viewer:
    """One viewer's bounded backlog; see the module docstring. Read it with :meth:`wait` and
    :meth:`take`; close it with :meth:`close`."""

    def __init__(self, shared: _SharedRun, mode: str, maxsize: int) -> None:
        self.shared = shared
        self.mode = mode
        self.maxsize = maxsize
        self.items: deque[tuple[str, str]] = deque()
        self.dirty: set[str] = set()  # progress mode: steps whose task counts changed
        self.snapshot_due: str | None = None
        self.finished: Item | None = None
        #: how many times this viewer fell so far behind that its backlog was replaced
        self.overflows = 0
        self.ready = asyncio.Event()
        #: set when what is waiting should go out at once (see :meth:`collect`)
        self.urgent = asyncio.Event()
        #: set once the run's end is known: a progress round waiting out its interval goes at once
        self.ended = asyncio.Event()

    @property
    def state(self) -> Any:
        return self.shared.live.state

    def wants(self, event: Item) -> bool:
        """Whether :meth:`_event` would queue the event's text."""
        return self.snapshot_due is None and not (self.mode == "progress" and isinstance(event, TaskEvent))

    def _event(self, event: Item, text: str) -> None:
        if self.snapshot_due is not None:
            return  # the snapshot that is due holds it
        if self.mode == "progress" and isinstance(event, TaskEvent):
            self.dirty.add(event.step_slug)
        elif len(self.items) >= self.maxsize:
            self.items.clear()
            self.dirty.clear()
            self.snapshot_due = "overflow"
            self.overflows += 1
            self.urgent.set()
        else:
            self.items.append((event.event_type, text))
            if len(self.items) >= self.maxsize // 2:
                self.urgent.set()
        self.ready.set()

    def _resync(self) -> None:
        if self.state.finished:
            return  # the final snapshot follows with "finished"
        self.items.clear()
        self.dirty.clear()
        self.snapshot_due = "resync"
        self.ready.set()
        self.urgent.set()

    def _finish(self, item: Item | None) -> None:
        self.finished = item
        self.ready.set()
        self.ended.set()
        self.urgent.set()

    async def wait(self, timeout: float | None) -> None:
        """Until there is something to send (``TimeoutError`` after ``timeout`` seconds)."""
        if not (self.items or self.snapshot_due or self.finished or self.dirty):
            self.ready.clear()
            await asyncio.wait_for(self.ready.wait(), timeout)

    async def collect(self, timeout: float) -> None:
        """Let more of a burst of events come, for at most ``timeout`` seconds, so that it goes
        out in one write; but not once the backlog is half its bound, a snapshot is due or the
        run's end is known: a viewer whose stream keeps up never falls behind for the wait."""
        self.urgent.clear()
        if len(self.items) >= self.maxsize // 2 or self.snapshot_due is not None or self.finished is not None:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.urgent.wait(), timeout)

    def take_all(self) -> list[tuple[str, str]]:
        """Every queued message (event name, JSON text), oldest first; the backlog is then empty."""
        items = list(self.items)
        self.items.clear()
        return items

    def progress(self) -> list[str]:
        """The ``step:progress`` payloads of the steps whose counts changed since the last call."""
        dirty, self.dirty = self.dirty, set()
        return [dumps(self.shared.step_progress(slug)) for slug in sorted(dirty)]

    async def snapshot(self) -> str:
        """The current state as snapshot JSON (shared by every viewer of the same mode and version)."""
        if self.mode == "tasks":
            await self.shared.follow_tasks()  # a viewer that fell behind may have let them go
        self.snapshot_due = None
        return await self.shared.snapshot(self.mode)

    async def close(self) -> None:
        await self.shared.leave(self)


class _SharedRun:
    """One run's live state for all its viewers, following task events only while a viewer
    needs them (see :class:`SharedRuns`)."""

    def __init__(self, owner: SharedRuns, live: LiveRun) -> None:
        self.owner = owner
        self.live = live
        self.viewers: set[Viewer] = set()
        self.started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._encoded: dict[str, tuple[Any, int, int, asyncio.Future[str]]] = {}
        #: task counts per step read from the table, while task events are not followed
        self.counts: dict[str, dict[str, int]] | None = None if live.tasks else {}
        self._counts_version = 0
        self._switching = asyncio.Lock()
        self._background: set[asyncio.Task[Any]] = set()
        self._poller: asyncio.Task[None] | None = None
        live.listen(self._changed)

    # ----------------------------------------------------------- task events
    def needs_tasks(self) -> bool:
        """Whether some viewer is sent task events now (a viewer that fell behind is not: it gets a
        snapshot when it reads again)."""
        return any(v.mode == "tasks" and v.snapshot_due is None for v in self.viewers)

    async def follow_tasks(self) -> None:
        """Follow task events again (a tasks viewer arrived or caught up): reloads the run."""
        if self.live.tasks:
            return
        async with self._switching:
            if not self.live.tasks:
                await self.live.follow_tasks(True)
                self.counts = None

    async def _let_tasks_go(self) -> None:
        async with self._switching:
            if not self.live.tasks or self.needs_tasks() or not self.viewers:
                return
            state = self.live.state  # exact so far: task events were followed until now
            self.counts = {slug: state.task_counts(slug) for slug in state.step_slugs()}
            self._counts_version += 1
            await self.live.follow_tasks(False)
            self._poll()

    def _later(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _maybe_let_tasks_go(self) -> None:
        if self.live.tasks and self.viewers and not self.needs_tasks() and not self._switching.locked():
            self._later(self._let_tasks_go())

    # ---------------------------------------------------------------- counts
    def _poll(self) -> None:
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll_counts())

    async def _poll_counts(self) -> None:
        """While task events are not followed and a progress viewer watches an unfinished run:
        read the task counts every ``progress_interval`` while some step is started."""
        while self.counts is not None and not self.live.finished \
                and any(v.mode == "progress" for v in self.viewers):
            await asyncio.sleep(self.owner.progress_interval)
            state = self.live.state
            if any(state.step_state(slug).status == StepStatus.STARTED for slug in state.step_slugs()):
                await self.read_counts()

    async def read_counts(self) -> None:
        """Read the task counts and mark the steps whose counts changed for progress viewers."""
        query = Query.all("live_task_counts", run_id=self.live.run_id)
        client = self.owner.client
        try:
            rows = await (client._run(query) if _is_async(client) else asyncio.to_thread(client._run, query))
        except PgFlowError as exc:
            log.warning("pgflow live run %s: reading task counts failed: %s", self.live.run_id, exc)
            return
        if self.counts is None:
            return  # task events are followed again meanwhile: the state counts
        counts: dict[str, dict[str, int]] = {}
        for row in rows:
            counts.setdefault(row["step_slug"], {})[row["status"]] = row["tasks"]
        changed = [slug for slug in counts.keys() | self.counts.keys() if counts.get(slug) != self.counts.get(slug)]
        if not changed:
            return
        self.counts = counts
        self._counts_version += 1
        for viewer in self.viewers:
            if viewer.mode == "progress" and viewer.snapshot_due is None:
                viewer.dirty.update(changed)
                viewer.ready.set()

    def step_progress(self, slug: str) -> dict[str, Any]:
        """One step's ``step:progress`` payload: from the state, or from the counts read while
        task events are not followed."""
        progress = self.live.state.step_progress(slug)
        if self.counts is not None:
            counts = self.counts.get(slug, {})
            progress["tasks"] = counts
            step = self.live.state.step_state(slug)
            progress["remaining_tasks"] = remaining_tasks(step, counts.get(TaskStatus.COMPLETED, 0))
        return progress

    # ---------------------------------------------------------------- events
    def _changed(self, kind: str, event: Item | None) -> None:
        if kind == "event" and event is not None:
            text = ""  # encoded once, and only when a viewer queues it (not for progress viewers)
            for viewer in self.viewers:
                if not text and viewer.wants(event):
                    text = capped_payload(event.raw, self.owner.field_limit)
                viewer._event(event, text)
            if isinstance(event, TaskEvent):
                self._maybe_let_tasks_go()
        elif kind == "resync":
            for viewer in self.viewers:
                viewer._resync()
        elif kind == "finished":
            if self.counts is not None:
                self._later(self._finish_with_counts(event))
            else:
                for viewer in self.viewers:
                    viewer._finish(event)

    async def _finish_with_counts(self, event: Item | None) -> None:
        await self.read_counts()  # the final counts, before the end goes out
        for viewer in self.viewers:
            viewer._finish(event)

    def snapshot(self, mode: str) -> asyncio.Future[str]:
        state = self.live.state
        cached = self._encoded.get(mode)
        if cached is not None and cached[0] is state and cached[1] == state.version \
                and cached[2] == self._counts_version:
            return cached[3]
        run = state.to_run()  # the steps that changed are rebuilt here; encoding runs in a thread
        progress = {s.step_slug: self.step_progress(s.step_slug) for s in run.step_states} \
            if mode == "progress" else None
        future = asyncio.ensure_future(asyncio.to_thread(encode_run, run, progress, self.owner.field_limit))
        self._encoded[mode] = (state, state.version, self._counts_version, future)
        return future

    async def leave(self, viewer: Viewer) -> None:
        self.viewers.discard(viewer)
        if not self.viewers and self.owner._runs.get(self.live.run_id) is self:
            del self.owner._runs[self.live.run_id]
            await _cancel_and_wait(self._poller, *self._background)
            await self.live.close()
        else:
            self._maybe_let_tasks_go()


class SharedRuns:
    """The live runs that viewers of one app are watching, one :class:`LiveRun` per run."""

    def __init__(self, client: Any, hub: EventHub | None = None, *, maxsize: int = VIEWER_BUFFER,
                 field_limit: int = FIELD_LIMIT, progress_interval: float = 0.5) -> None:
        self.client = client
        self.hub = hub
        self.maxsize = maxsize
        self.field_limit = field_limit
        self.progress_interval = progress_interval
        self._runs: dict[UUID, _SharedRun] = {}

    def watched(self) -> int:
        """How many runs have viewers now."""
        return len(self._runs)

    def viewers_of(self, run_id: UUID) -> list[Viewer]:
        shared = self._runs.get(run_id)
        return list(shared.viewers) if shared is not None else []

    async def view(self, run_id: UUID, mode: str = "tasks") -> Viewer:
        """A new viewer of ``run_id``; raises ``RunNotFound`` for an unknown run."""
        if mode not in MODES:
            raise ValueError(f"mode is one of {', '.join(MODES)}, not {mode!r}")
        shared = self._runs.get(run_id)
        if shared is None:
            # the end is sent from the indexed state, reading back only what events left unknown
            live = LiveRun(self.client, run_id, hub=self.hub, reload_on_finish="unknown", tasks=mode == "tasks")
            shared = self._runs[run_id] = _SharedRun(self, live)
            try:
                await shared.live.start()
            except BaseException as exc:
                del self._runs[run_id]
                shared.started.set_exception(exc)
                shared.started.exception()  # retrieved: the other waiters re-raise it
                raise
            if not live.tasks:  # the reading just made is exact: count from it, then from the table
                shared.counts = {slug: live.state.task_counts(slug) for slug in live.state.step_slugs()}
            shared.started.set_result(None)
        else:
            await asyncio.shield(shared.started)
        viewer = Viewer(shared, mode, self.maxsize)
        shared.viewers.add(viewer)
        if shared.live.finished:
            viewer._finish(shared.live._finished)
        elif shared.counts is not None:
            shared._poll()
        else:
            shared._maybe_let_tasks_go()
        return viewer


__all__ = ["FIELD_LIMIT", "VIEWER_BUFFER", "SharedRuns", "Viewer", "encode_run"]
