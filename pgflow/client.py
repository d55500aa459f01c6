"""``pgflow.Client`` and ``pgflow.AsyncClient``: the same methods, one implementation.

Every public method is an operation of :mod:`pgflow.ops` (a generator of queries) made into a
method by :class:`_shared`: ``start_flow = _shared(run_ops.start_flow)``. The operation is the one
place where the method's parameters, docstring and result type are written. ``Client`` runs the
operation on a pooled sync connection and returns its result; on ``AsyncClient`` each method is a
coroutine function (``async def``) that runs it on a pooled async connection, so type checkers see
``Run`` on one and a coroutine of ``Run`` on the other, and frameworks that ask
``inspect.iscoroutinefunction`` (FastAPI's background tasks) see an async method::

    with pgflow.Client() as client:                      # async with pgflow.AsyncClient() as client:
        run = client.start_flow_sync(order, {"id": 1})   #     run = await client.start_flow_sync(...)

Connections: a URL (``dsn``), or a psycopg pool the caller owns (``pool=``, never closed
here); by default ``PGFLOW_DATABASE_URL`` / ``DATABASE_URL``, else the embedded PostgreSQL.
The client opens on first use or with ``open()`` / ``with``; close it with ``close()``.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import types
from collections.abc import Callable, Coroutine
from typing import Any, Generic, NoReturn, ParamSpec, TypeVar, overload

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from pgflow import migrate
from pgflow.db import ClientOperation, Operation, connect_args, drive_async, drive_sync, new_pool, translate_error
from pgflow.errors import ConfigurationError, FlowNotFound
from pgflow.live.feed import EventFeed
from pgflow.ops import bulk as bulk_ops
from pgflow.ops import cancel as cancel_ops
from pgflow.ops import flow_control as flow_control_ops
from pgflow.ops import flows as flow_ops
from pgflow.ops import health as health_ops
from pgflow.ops import resume as resume_ops
from pgflow.ops import retry as retry_ops
from pgflow.ops import runs as run_ops
from pgflow.ops import schedules as schedule_ops
from pgflow.ops import waits as wait_ops
from pgflow.ops.common import not_compiled_hint
from pgflow.types import RunId

__all__ = ["AsyncClient", "Client"]

P = ParamSpec("P")
T = TypeVar("T")

CLOCK = "now"
"""The test clock parameter of some operations (:mod:`pgflow.ops.schedules`): never a client's."""
_SELF = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)


class _shared(Generic[P, T]):
    """An operation made into a method of both clients: ``get_run = _shared(run_ops.get_run)``.

    The method has the operation's parameters (without its test clock ``now``), docstring and
    result: ``T`` on a :class:`Client`; on an :class:`AsyncClient` it is a coroutine function
    whose coroutine returns ``T``. Which of the two a class gets follows its ``_run``.
    """

    def __init__(self, operation: Callable[P, ClientOperation[T]]) -> None:
        self.operation = operation
        signature = inspect.signature(operation)
        public = [p for name, p in signature.parameters.items() if name != CLOCK]
        self.signature = signature.replace(parameters=public, return_annotation=inspect.Signature.empty)
        self._has_clock = len(public) < len(signature.parameters)
        self._methods: dict[type, Callable[..., Any]] = {}

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def _check(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if self._has_clock:  # refuse the clock as the method's signature says, with Python's words
            self.signature.bind(*args, **kwargs)

    def _method(self, owner: type[_Methods]) -> Callable[..., Any]:
        operation, check = self.operation, self._check

        def method(client: _Methods, /, *args: Any, **kwargs: Any) -> Any:
            check(args, kwargs)
            try:
                return client._run(operation(*args, **kwargs))
            except FlowNotFound as exc:  # given a Flow object: say it was never compiled
                _raise_with_hint(exc, args, kwargs)

        async def async_method(client: _Methods, /, *args: Any, **kwargs: Any) -> Any:
            check(args, kwargs)
            try:
                return await client._run(operation(*args, **kwargs))
            except FlowNotFound as exc:
                _raise_with_hint(exc, args, kwargs)

        chosen = async_method if inspect.iscoroutinefunction(owner._run) else method
        # not functools.wraps: its __wrapped__ would lead inspect.unwrap (FastAPI's dependency
        # analysis, for one) to the operation, a generator function, and misjudge the method
        chosen.__name__, chosen.__qualname__ = self.name, f"{owner.__qualname__}.{self.name}"
        chosen.__module__, chosen.__doc__ = owner.__module__, operation.__doc__
        setattr(chosen, "__signature__", self.signature.replace(parameters=[_SELF, *self.signature.parameters.values()]))
        return chosen

    @overload
    def __get__(self, client: None, owner: type[_Methods]) -> Callable[..., Any]: ...
    @overload
    def __get__(self, client: AsyncClient, owner: type[_Methods]) -> Callable[P, Coroutine[Any, Any, T]]: ...
    @overload
    def __get__(self, client: Client, owner: type[_Methods]) -> Callable[P, T]: ...

    def __get__(self, client: _Methods | None, owner: type[_Methods]) -> Any:
        try:
            method = self._methods[owner]
        except KeyError:
            method = self._methods[owner] = self._method(owner)
        return method if client is None else types.MethodType(method, client)


def _raise_with_hint(exc: FlowNotFound, args: tuple[Any, ...], kwargs: dict[str, Any]) -> NoReturn:
    hinted = not_compiled_hint(exc, args, kwargs)
    if hinted is exc:
        raise exc
    raise hinted from None


def _install(pgmq: str = "auto") -> Operation[list[str]]:
    """Apply the missing schema migrations (and pgmq when absent); returns their names.

    Idempotent, and safe from several processes at once (an advisory lock serializes them).
    """
    applied = yield from migrate.install(pgmq=pgmq)
    return [f"{m.version:04d}_{m.name}" for m in applied]


class _Methods:
    """The public methods of both clients: each runs an operation with ``self._run``."""

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

    def _run(self, operation: ClientOperation[Any]) -> Any:  # pragma: no cover - defined by the two clients
        raise NotImplementedError

    install = _shared(_install)

    # flows (pgflow/ops/flows.py)
    compile = _shared(flow_ops.compile_flow)
    recompile = _shared(flow_ops.recompile_flow)
    flow_exists = _shared(flow_ops.flow_exists)
    get_flow = _shared(flow_ops.get_flow)
    list_flows = _shared(flow_ops.list_flows)
    delete_flow = _shared(flow_ops.delete_flow)
    upsert_flow = _shared(flow_ops.upsert_flow)

    # runs (pgflow/ops/runs.py)
    start_flow = _shared(run_ops.start_flow)
    start_flow_sync = _shared(run_ops.start_flow_and_wait)
    new_run_id = _shared(run_ops.new_run_id)
    find_run_id = _shared(run_ops.find_run_id)
    get_run = _shared(run_ops.get_run)
    get_run_with_states = _shared(run_ops.get_run_with_states)
    list_runs = _shared(run_ops.list_runs)
    prune = _shared(run_ops.prune)
    cancel_run = _shared(cancel_ops.cancel_run)  # pgflow/ops/cancel.py
    retry_run = _shared(retry_ops.retry_run)  # pgflow/ops/retry.py
    resume_run = _shared(resume_ops.resume_run)  # pgflow/ops/resume.py
    cancel_runs = _shared(bulk_ops.cancel_runs)  # pgflow/ops/bulk.py
    retry_runs = _shared(bulk_ops.retry_runs)
    resume_runs = _shared(bulk_ops.resume_runs)
    signal = _shared(wait_ops.signal)  # pgflow/ops/waits.py
    signal_by_key = _shared(wait_ops.signal_by_key)

    # flow control (pgflow/ops/flow_control.py, docs/guides/flow-control.md)
    pause_flow = _shared(flow_control_ops.pause_flow)
    resume_flow = _shared(flow_control_ops.resume_flow)
    set_limits = _shared(flow_control_ops.set_limits)
    get_flow_control = _shared(flow_control_ops.get_flow_control)

    # jobs, and delayed runs of any flow
    enqueue = _shared(run_ops.enqueue)
    enqueue_in = _shared(run_ops.enqueue_in)
    enqueue_at = _shared(run_ops.enqueue_at)

    # schedules (pgflow/ops/schedules.py, docs/guides/schedules.md)
    schedule = _shared(schedule_ops.schedule)
    unschedule = _shared(schedule_ops.unschedule)
    pause_schedule = _shared(schedule_ops.pause_schedule)
    resume_schedule = _shared(schedule_ops.resume_schedule)
    get_schedule = _shared(schedule_ops.get_schedule)
    list_schedules = _shared(schedule_ops.list_schedules)
    run_schedule_now = _shared(schedule_ops.run_schedule_now)
    set_schedule_backend = _shared(schedule_ops.set_schedule_backend)
    schedule_history = _shared(schedule_ops.schedule_history)

    # workers (pgflow/ops/health.py, docs/guides/workers.md)
    health_check = _shared(health_ops.health_check)


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
                pool = new_pool(ConnectionPool, dsn, max_size=self._max_size, name="pgflow-client")
                try:
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
    """The asyncio client: the same methods as :class:`Client`, each a coroutine function (``async def``)."""

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
                pool = await asyncio.to_thread(new_pool, AsyncConnectionPool, dsn, max_size=self._max_size,
                                               name="pgflow-async-client")
                try:
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

    def subscribe(self, run_id: RunId | None = None) -> EventFeed:
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
            return await connect_args(self._pool)
        await self.open()
        assert self._dsn is not None
        return self._dsn, {}
