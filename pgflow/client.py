"""``pgflow.Client`` and ``pgflow.AsyncClient``: the same methods, one implementation.

Every public method is written once, in :class:`_Methods`: it builds an operation
(:mod:`pgflow.ops`), and its ``@_shared`` decorator hands that to ``self._run``. ``Client._run``
drives it on a pooled sync connection and returns the result; ``AsyncClient._run`` returns the
coroutine that drives it on a pooled async connection, so the same method is awaited there (and
type checkers see ``Run`` on one, ``Awaitable[Run]`` on the other)::

    with pgflow.Client() as client:                      # async with pgflow.AsyncClient() as client:
        run = client.start_flow_sync(order, {"id": 1})   #     run = await client.start_flow_sync(...)

Connections: a URL (``dsn``), or a psycopg pool the caller owns (``pool=``, never closed
here); by default ``PGFLOW_DATABASE_URL`` / ``DATABASE_URL``, else the embedded PostgreSQL.
The client opens on first use or with ``open()`` / ``with``; close it with ``close()``.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
import types
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload
from uuid import UUID

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from pgflow import migrate
from pgflow.db.executor import Operation
from pgflow.errors import ConfigurationError
from pgflow.models import FlowInfo, Run, Schedule
from pgflow.ops import flows as flow_ops
from pgflow.ops import runs as run_ops
from pgflow.ops import health as health_ops
from pgflow.ops import schedules as schedule_ops
from pgflow.ops.health import WorkerHealth
from pgflow.db import ClientOperation, drive_async, drive_sync, translate_error
from pgflow.live.feed import EventFeed

__all__ = ["AsyncClient", "Client"]


def _applied_names(applied: list[migrate.Migration]) -> list[str]:
    return [f"{m.version:04d}_{m.name}" for m in applied]


def _install(pgmq: str) -> Operation[list[str]]:
    applied = yield from migrate.install(pgmq=pgmq)
    return _applied_names(applied)


P = ParamSpec("P")
T = TypeVar("T")


class _shared(Generic[P, T]):
    """Makes a method that builds an operation into a method of both clients.

    ``client.method(...)`` returns ``client._run(operation)``: the result on a :class:`Client`,
    an awaitable of it on an :class:`AsyncClient`, and type checkers see exactly that.
    """

    def __init__(self, build: Callable[Concatenate[Any, P], ClientOperation[T]]) -> None:
        @functools.wraps(build)
        def method(client: _Methods, *args: Any, **kwargs: Any) -> Any:
            return client._run(build(client, *args, **kwargs))

        signature = inspect.signature(build)  # the builder's return annotation is not the method's
        method.__signature__ = signature.replace(return_annotation=inspect.Signature.empty)  # type: ignore[attr-defined]
        self._method = method

    @overload
    def __get__(self, client: None, owner: type) -> Callable[..., Any]: ...
    @overload
    def __get__(self, client: AsyncClient, owner: type) -> Callable[P, Awaitable[T]]: ...
    @overload
    def __get__(self, client: Client, owner: type) -> Callable[P, T]: ...

    def __get__(self, client: _Methods | None, owner: type) -> Any:
        return self._method if client is None else types.MethodType(self._method, client)


class _Methods:
    """The public methods of both clients: each builds an operation, which ``self._run`` runs."""

    _pool_class: type

    def _configure(self, dsn: str | None, pool: Any, max_size: int) -> None:
        name = type(self).__name__
        if dsn is not None and pool is not None:
            raise ConfigurationError(f"give pgflow.{name} a dsn or a pool, not both")
        if pool is not None and not isinstance(pool, self._pool_class):
            raise ConfigurationError(
                f"pgflow.{name} needs a psycopg_pool.{self._pool_class.__name__}, got {type(pool).__name__} "
                f"(Client takes a ConnectionPool, AsyncClient an AsyncConnectionPool)"
            )
        self._dsn = dsn
        self._pool = pool
        self._owns_pool = pool is None
        self._max_size = max_size
        self._closed = False

    def _run(self, operation: Any) -> Any:  # pragma: no cover - defined by the two clients
        raise NotImplementedError

    # --- schema ------------------------------------------------------------------------------

    @_shared
    def install(self, pgmq: str = "auto") -> Operation[list[str]]:
        """Apply the missing schema migrations (and pgmq when absent); returns their names.

        Idempotent, and safe from several processes at once (an advisory lock serializes them).
        """
        return _install(pgmq)

    # --- flows -------------------------------------------------------------------------------

    @_shared
    def compile(self, flow: Any, allow_data_loss: bool = False) -> Operation[dict[str, Any]]:
        """Make sure the database holds ``flow`` (a Flow or Job) as defined in code.

        Returns ``{"status": "compiled" | "verified" | "recompiled", "differences": [...]}``.
        When the stored flow differs, raises FlowShapeMismatch listing the differences, unless
        ``allow_data_loss=True``: then the flow is recreated and all its runs are deleted.
        """
        return flow_ops.compile_flow(flow, allow_data_loss)

    @_shared
    def flow_exists(self, flow: Any) -> Operation[bool]:
        """Whether a flow (Flow, Job or slug) is stored in the database."""
        return flow_ops.flow_exists(flow)

    @_shared
    def get_flow(self, flow: Any) -> ClientOperation[FlowInfo]:
        """The stored definition: options and steps (in order) with their dependencies."""
        return flow_ops.get_flow(flow)

    @_shared
    def list_flows(self) -> ClientOperation[list[FlowInfo]]:
        """Every stored flow and job, by slug."""
        return flow_ops.list_flows()

    @_shared
    def delete_flow(self, flow: Any) -> Operation[None]:
        """Delete a flow with all its runs, step states, tasks and its queue, and its schedules
        (with their pg_cron jobs). Irreversible."""
        return flow_ops.delete_flow(flow)

    @_shared
    def upsert_flow(
        self,
        slug: str,
        steps: Sequence[dict[str, Any]],
        *,
        max_attempts: int | None = None,
        base_delay: int | None = None,
        timeout: int | None = None,
    ) -> Operation[dict[str, str]]:
        """Store a flow defined as data, e.g. a per-tenant automation, replacing any flow of that slug.

        ``steps`` is a list of dicts in step order: ``{"slug": "a", "deps": ["b"], "step_type":
        "single" | "map", "max_attempts": ..., "base_delay": ..., "timeout": ..., "start_delay":
        ..., "required_input_pattern": {...}, "forbidden_input_pattern": {...}, "when_unmet": ...,
        "when_exhausted": ...}``, validated with the DSL's rules. **Destructive**: when the slug
        exists, its runs, tasks and queued messages are deleted with the old definition.
        Returns ``{"status": "compiled"}`` for a new slug, ``{"status": "recompiled"}`` otherwise.
        """
        return flow_ops.upsert_flow(slug, steps, max_attempts=max_attempts, base_delay=base_delay,
                                    timeout=timeout)

    # --- runs --------------------------------------------------------------------------------

    @_shared
    def start_flow(self, flow: Any, input: Any, run_id: UUID | str | None = None) -> Operation[UUID]:
        """Start a run of ``flow`` (Flow, Job or slug) with a JSON ``input``; returns the run id."""
        return run_ops.start_flow(flow, input, run_id)

    @_shared
    def start_flow_sync(self, flow: Any, input: Any, timeout: float = 60.0) -> ClientOperation[Run]:
        """Start a run and wait until it finishes; returns the completed run with its step states.

        Waits on the database's events (LISTEN/NOTIFY), not by polling. Raises RunFailed
        (``.run`` holds the failed run) or RunTimeout after ``timeout`` seconds (the run goes on).
        """
        return run_ops.start_flow_and_wait(flow, input, timeout)

    @_shared
    def get_run(self, run_id: UUID | str) -> Operation[Run]:
        """One run (without step states); RunNotFound when there is none."""
        return run_ops.get_run(run_id)

    @_shared
    def get_run_with_states(self, run_id: UUID | str) -> ClientOperation[Run]:
        """One run with ``.step_states`` (in step order, each with its ``.tasks``)."""
        return run_ops.get_run_with_states(run_id)

    @_shared
    def list_runs(self, flow: Any = None, status: str | None = None,
                  limit: int = 50) -> Operation[list[Run]]:
        """Runs, newest first; ``flow`` and ``status`` ("started", "completed", "failed") filter."""
        return run_ops.list_runs(flow, status, limit)

    # --- jobs (and delayed runs of any flow) -------------------------------------------------

    @_shared
    def enqueue(
        self,
        job: Any,
        input: Any,
        delay_seconds: float | timedelta | None = None,
        scheduled_at: datetime | None = None,
    ) -> Operation[UUID]:
        """Start a run of a job (or any flow) now, its first task visible after a delay or at a time.

        The run is stored at once (status "started"); workers see its first task only when it is
        due. ``scheduled_at`` must be timezone-aware (naive datetimes raise InvalidInput); a past
        time means now. Returns the run id.
        """
        return run_ops.enqueue(job, input, delay_seconds, scheduled_at)

    @_shared
    def enqueue_in(self, job: Any, input: Any, seconds: float | timedelta) -> Operation[UUID]:
        """:meth:`enqueue` with its first task due ``seconds`` from now (database clock)."""
        return run_ops.enqueue(job, input, delay_seconds=seconds)

    @_shared
    def enqueue_at(self, job: Any, input: Any, when: datetime) -> Operation[UUID]:
        """:meth:`enqueue` with its first task due at ``when`` (an aware datetime, any time zone)."""
        return run_ops.enqueue(job, input, scheduled_at=when)

    # --- maintenance -------------------------------------------------------------------------

    @_shared
    def prune(self, older_than: timedelta, flows: Iterable[Any] | None = None) -> Operation[dict[str, int]]:
        """Delete runs that finished before ``older_than`` ago, with their step states, tasks and
        archived messages, and workers silent for as long; only of ``flows`` when given.
        Runs still going are never deleted. Returns the number of rows deleted per kind."""
        return run_ops.prune(older_than, flows)

    # --- schedules (pgflow/ops/schedules.py, docs/guides/schedules.md) ------------------------

    @_shared
    def schedule(self, flow: Any, cron: Any, input: Any = None, timezone: str | None = None, *,
                 slug: str | None = None, catch_up: str | None = None,
                 backend: str = "builtin") -> Operation[Schedule]:
        """Run ``flow`` (Flow, Job or slug, already compiled) on a cron schedule; returns the schedule.

        ``cron`` is an expression (``"0 9 * * *"``, ``"@hourly"``) or a :class:`pgflow.Cron`;
        ``input``/``timezone``/``catch_up`` override its parts. ``slug`` names the schedule (default:
        the flow's slug; a second schedule of a flow needs its own). ``backend``: ``"builtin"`` (the
        workers' scheduler), ``"pg_cron"`` (a pg_cron job ``pgflow_<slug>``) or ``"auto"``.
        Scheduling an existing slug replaces that schedule. Raises ScheduleError.
        """
        return schedule_ops.schedule(flow, cron, input=input, timezone=timezone, slug=slug,
                                     catch_up=catch_up, backend=backend)

    @_shared
    def unschedule(self, slug: str) -> Operation[None]:
        """Delete a schedule (and its pg_cron job); the runs it started stay."""
        return schedule_ops.unschedule(slug)

    @_shared
    def pause_schedule(self, slug: str) -> Operation[Schedule]:
        """Stop starting runs until resumed (stored in the database: every worker sees it)."""
        return schedule_ops.pause_schedule(slug)

    @_shared
    def resume_schedule(self, slug: str) -> Operation[Schedule]:
        """Start runs again from the next tick on (ticks of the paused time are not caught up)."""
        return schedule_ops.resume_schedule(slug)

    @_shared
    def get_schedule(self, slug: str) -> Operation[Schedule]:
        return schedule_ops.get_schedule(slug)

    @_shared
    def list_schedules(self) -> Operation[list[Schedule]]:
        """Every schedule with its status, next run time and a description ("every day at 09:00 UTC")."""
        return schedule_ops.list_schedules()

    @_shared
    def run_schedule_now(self, slug: str) -> Operation[UUID]:
        """Start a run of the schedule now (marked 'manual'); its timetable is unchanged."""
        return schedule_ops.run_schedule_now(slug)

    @_shared
    def set_schedule_backend(self, slug: str, backend: str) -> Operation[Schedule]:
        """Move a schedule to ``"builtin"`` or ``"pg_cron"``."""
        return schedule_ops.set_schedule_backend(slug, backend)

    @_shared
    def schedule_history(self, slug: str, limit: int = 50) -> Operation[list[dict[str, Any]]]:
        """The runs a schedule started: run id, tick, trigger and run status, newest tick first."""
        return schedule_ops.schedule_history(slug, limit)

    # --- workers (pgflow/ops/health.py, docs/guides/workers.md) -------------------------------

    @_shared
    def health_check(self, stale_after: float = 15.0, dead_after: float = 60.0, *,
                     include_stopped: bool = False) -> Operation[list[WorkerHealth]]:
        """The workers seen in the last hour, one per process, newest first: name, flows served,
        last heartbeat and health (``healthy``, ``stale`` after ``stale_after`` s without a
        heartbeat, ``dead`` after ``dead_after`` s or once stopped; stopped ones only with
        ``include_stopped``)."""
        return health_ops.health_check(stale_after, dead_after, include_stopped=include_stopped)


class Client(_Methods):
    """The synchronous client. Thread-safe: each call takes a connection from the pool."""

    _pool_class = ConnectionPool
    _pool: ConnectionPool | None

    def __init__(self, dsn: str | None = None, *, pool: ConnectionPool | None = None, max_size: int = 10) -> None:
        self._configure(dsn, pool, max_size)
        self._lock = threading.Lock()

    def open(self) -> Client:
        """Connect (the first call does this when needed). Unreachable database: DatabaseUnavailable."""
        with self._lock:
            if self._closed:
                raise ConfigurationError("this pgflow.Client is closed; create a new one")
            if self._pool is None:
                from pgflow.db.dsn import resolve_dsn

                dsn = resolve_dsn(self._dsn)
                try:
                    psycopg.connect(dsn, connect_timeout=10).close()  # fail fast, with the reason
                    pool = ConnectionPool(dsn, min_size=1, max_size=self._max_size, open=False,
                                          kwargs={"autocommit": True}, name="pgflow-client")
                    pool.open(wait=True, timeout=30)
                except psycopg.Error as exc:
                    raise translate_error(exc) from exc
                self._dsn, self._pool = dsn, pool
        return self

    def close(self) -> None:
        """Close the pool the client opened (a pool passed in stays open: its owner closes it)."""
        with self._lock:
            self._closed = True
            if self._owns_pool and self._pool is not None:
                self._pool.close()
            self._pool = None

    def __enter__(self) -> Client:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, operation: Any) -> Any:
        pool = self._pool or self.open()._pool
        assert pool is not None
        try:
            with pool.connection() as conn:
                return drive_sync(conn, operation)
        except psycopg.Error as exc:  # taking the connection failed (pool timeout, lost server)
            raise translate_error(exc) from exc


class AsyncClient(_Methods):
    """The asyncio client: the same methods as :class:`Client`, each returning an awaitable."""

    _pool_class = AsyncConnectionPool
    _pool: AsyncConnectionPool | None

    def __init__(self, dsn: str | None = None, *, pool: AsyncConnectionPool | None = None,
                 max_size: int = 10) -> None:
        self._configure(dsn, pool, max_size)
        self._lock: asyncio.Lock | None = None

    async def open(self) -> AsyncClient:
        """Connect (the first call does this when needed). Unreachable database: DatabaseUnavailable."""
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            if self._closed:
                raise ConfigurationError("this pgflow.AsyncClient is closed; create a new one")
            if self._pool is None:
                from pgflow.db.dsn import resolve_dsn

                dsn = await asyncio.to_thread(resolve_dsn, self._dsn)  # may start the embedded server
                try:
                    await (await psycopg.AsyncConnection.connect(dsn, connect_timeout=10)).close()
                    pool = AsyncConnectionPool(dsn, min_size=1, max_size=self._max_size, open=False,
                                               kwargs={"autocommit": True}, name="pgflow-async-client")
                    await pool.open(wait=True, timeout=30)
                except psycopg.Error as exc:
                    raise translate_error(exc) from exc
                self._dsn, self._pool = dsn, pool
        return self

    async def close(self) -> None:
        """Close the pool the client opened (a pool passed in stays open: its owner closes it)."""
        self._closed = True
        pool, self._pool = self._pool, None
        if self._owns_pool and pool is not None:
            await pool.close()

    async def __aenter__(self) -> AsyncClient:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _run(self, operation: Any) -> Any:
        pool = self._pool or (await self.open())._pool
        assert pool is not None
        try:
            async with pool.connection() as conn:
                return await drive_async(conn, operation)
        except psycopg.Error as exc:
            raise translate_error(exc) from exc

    def subscribe(self, run_id: UUID | str | None = None) -> EventFeed:
        """Typed events (:mod:`pgflow.events`) of one run, or of every run when ``run_id`` is None.

            async with client.subscribe(run_id) as events:   # listening from here on
                async for event in events: ...

        A one-run subscription ends after the run's ``run:completed`` or ``run:failed`` event.
        All subscriptions of the process share one LISTEN connection (pgflow.live's event hub);
        after a gap in that connection the iteration yields a ``pgflow.live.Gap`` (reload state).
        """
        return EventFeed(self, run_id)

    async def _conninfo(self) -> tuple[str, dict[str, Any]]:
        if self._pool is not None and not self._owns_pool:
            from pgflow.db.pools import connect_args

            return await connect_args(self._pool)
        await self.open()
        assert self._dsn is not None
        return self._dsn, {}
