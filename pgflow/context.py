"""``pgflow.Context``: what a handler knows about the task it runs.

A handler that takes two parameters receives it as ``ctx``::

    @flow.step(depends_on=[fetch])
    async def summarize(deps, ctx):
        flow_input = await ctx.get_flow_input()   # or ctx.flow_input in a sync handler
        if ctx.shutdown.is_set(): ...             # the worker is stopping
        ctx.raise_if_cancelled()                  # the run was cancelled (ctx.cancelled)

The flow input is loaded from ``pgflow.runs`` on first use and cached per run (root single
steps receive it with the task, so it costs nothing there).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from pgflow.errors import ConfigurationError, PgFlowError, TaskCancelled

_MISSING: Any = object()

FlowInputLoader = Callable[[UUID], Awaitable[Any]]


@dataclass(eq=False)
class Context:
    """The task a handler runs, and how to reach the database and the worker's state."""

    run_id: UUID
    flow_slug: str
    step_slug: str
    task_index: int = 0
    attempt: int = 1
    worker_id: UUID | None = None
    msg_id: int | None = None
    conninfo: str | None = None
    shutdown: asyncio.Event = field(default_factory=asyncio.Event)
    _flow_input: Any = field(default=_MISSING, repr=False)
    _load_flow_input: FlowInputLoader | None = field(default=None, repr=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)
    _pool_factory: Callable[[], Any] | None = field(default=None, repr=False)
    # set (from the worker's loop) once the task's run is cancelled; a threading.Event, as sync
    # handlers read it from their threads
    _cancelled: threading.Event = field(default_factory=threading.Event, repr=False)

    async def get_flow_input(self) -> Any:
        """The run's input (loaded once per run, then cached)."""
        if self._flow_input is _MISSING:
            if self._load_flow_input is None:
                raise ConfigurationError(f"the flow input of run {self.run_id} is not available in this context")
            self._flow_input = await self._load_flow_input(self.run_id)
        return self._flow_input

    @property
    def flow_input(self) -> Any:
        """The run's input, for sync handlers (which run in worker threads).

        In an async handler use ``await ctx.get_flow_input()`` instead; this property works there
        only when the input is already known (root single steps).
        """
        if self._flow_input is not _MISSING:
            return self._flow_input
        loop = self._loop
        if loop is None or self._load_flow_input is None:
            raise ConfigurationError(f"the flow input of run {self.run_id} is not available in this context")
        if _on_loop_thread(loop):
            raise PgFlowError(
                "ctx.flow_input would block the event loop in an async handler; "
                "use `await ctx.get_flow_input()` instead"
            )
        future = asyncio.run_coroutine_threadsafe(self.get_flow_input(), loop)
        return future.result()

    @property
    def pool(self) -> Any:
        """A ``psycopg_pool.AsyncConnectionPool`` for async handlers, shared by the worker's tasks.

        Created on first use, separate from the worker's own connections, closed when the
        worker stops. Sync handlers should connect with ``psycopg.connect(ctx.conninfo)``.
        """
        if self._pool_factory is None:
            raise ConfigurationError(
                "no database pool in this context (pgflow.testing.run_inline runs without a database)"
            )
        return self._pool_factory()

    @property
    def cancelled(self) -> bool:
        """True once the worker learned that this task's run was cancelled (``cancel_run``): the
        task's result no longer counts. Long sync handlers can poll it between pieces of work
        (async handlers are cancelled after the worker's ``cancel_grace``)."""
        return self._cancelled.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`pgflow.errors.TaskCancelled` when the task's run was cancelled."""
        if self._cancelled.is_set():
            raise TaskCancelled(f"run {self.run_id} was cancelled; task {self.step_slug}[{self.task_index}] "
                                f"stops here (its result would change nothing)")

    @property
    def is_shutting_down(self) -> bool:
        """True once the worker has begun to stop; long handlers may return early."""
        return self.shutdown.is_set()


def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return getattr(loop, "_thread_id", None) == threading.get_ident()
