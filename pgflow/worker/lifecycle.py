"""``pgflow.Worker``: start, serve, drain, stop.

    worker = pgflow.Worker(dsn, [order_flow, send_email], max_concurrency=20)
    worker.run()                      # blocks; SIGINT/SIGTERM stop it gracefully

    async with pgflow.Worker(dsn, [order_flow]) as worker:   # or await worker.start() / stop()
        ...

Start: compile each flow (a shape mismatch refuses to start), register one ``pgflow.workers``
row per queue, enable pgmq's insert notifications (``signal="notify"``), then run the poller,
the reporter, the listener and the background services.

Stop: stop reading; let in-flight tasks finish for up to ``shutdown_timeout`` seconds; hand the
unfinished ones back to their queues (another worker takes them at once); report what finished;
``mark_worker_stopped``. A second SIGINT/SIGTERM skips the wait.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import sys
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Literal
from uuid import UUID

from pgflow import telemetry
from pgflow.dsl.flow import Flow
from pgflow.errors import ConfigurationError
from pgflow.worker import startup
from pgflow.worker.config import WorkerConfig
from pgflow.worker.context import WorkerContext, WorkerState
from pgflow.db import Database
from pgflow.worker.listener import Listener, listen_database
from pgflow.worker.plan import StepPlan
from pgflow.worker.poller import Poller, wait_any
from pgflow.worker.reporter import Reporter
from pgflow.worker.runner import TaskRunner
from pgflow.worker.services import Service, default_services
from pgflow.worker.wiring import Parts, wire

log = logging.getLogger("pgflow.worker")


class Worker:
    """Runs the handlers of one or more flows and jobs from their pgmq queues."""

    def __init__(
        self,
        client_or_dsn: Any = None,
        flows: Iterable[Flow] = (),
        *,
        max_concurrency: int = 10,
        batch_size: int = 10,
        signal: str = "notify",
        min_poll_interval: float = 0.05,
        max_poll_interval: float = 2.0,
        notify_fallback_interval: float = 5.0,
        report_linger: float = 0.01,
        heartbeat_interval: float = 5.0,
        recovery_interval: float = 15.0,
        stale_threshold: float | None = None,
        shutdown_timeout: float = 30.0,
        cancel_grace: float = 5.0,
        name: str | None = None,
        allow_data_loss: bool = False,
        scheduler: bool = True,
        error_detail: Literal["traceback", "line"] = "traceback",
    ) -> None:
        self.config = WorkerConfig(
            max_concurrency=max_concurrency, batch_size=batch_size, signal=signal,
            min_poll_interval=min_poll_interval, max_poll_interval=max_poll_interval,
            notify_fallback_interval=notify_fallback_interval, report_linger=report_linger,
            heartbeat_interval=heartbeat_interval,
            recovery_interval=recovery_interval, stale_threshold=stale_threshold,
            shutdown_timeout=shutdown_timeout, cancel_grace=cancel_grace, name=name,
            allow_data_loss=allow_data_loss,
            scheduler=scheduler, error_detail=error_detail,
        )
        self.flows: list[Flow] = startup.check_flows(flows)
        self.name = self.config.function_name
        self._target = client_or_dsn
        self.conninfo: str | None = None
        self.queue_worker_ids: dict[str, UUID] = {f.slug: uuid.uuid4() for f in self.flows}
        self.services: list[Service] = default_services(self.config)
        self.stopping = asyncio.Event()  # set when the worker stops taking work
        self._stopped = asyncio.Event()
        self._stop_requested = asyncio.Event()
        self._stop_reason = "stopped"
        self._force = False
        self._timeout = self.config.shutdown_timeout
        self._state = WorkerState.CREATED
        self._background: dict[str, asyncio.Task[Any]] = {}
        self._started_at = 0.0
        self.db: Database | None = None
        self._parts: Parts | None = None  # the running worker's components (wiring.wire), from start()
        self.handed_back = 0

    # ------------------------------------------------------------------ public API

    @property
    def worker_ids(self) -> list[UUID]:
        """The ids of this worker's rows in ``pgflow.workers`` (one per queue)."""
        return list(self.queue_worker_ids.values())

    @property
    def state(self) -> WorkerState:
        """created, starting, running, stopping or stopped (a ``str`` enum: ``== "running"`` holds)."""
        return self._state

    @property
    def in_flight(self) -> int:
        """Tasks whose handlers are running now."""
        return self._parts.slots.used if self._parts is not None else 0

    @property
    def plans(self) -> Mapping[tuple[str, str], StepPlan]:
        """What the worker precomputed per (flow slug, step slug), from the stored options (after start)."""
        return self._parts.ctx.plans if self._parts is not None else {}

    @property
    def completed(self) -> int:
        """Tasks this worker reported completed to the database."""
        return self._parts.followup.completed if self._parts is not None else 0

    @property
    def failed(self) -> int:
        """Task attempts this worker reported failed to the database."""
        return self._parts.followup.failed if self._parts is not None else 0

    @property
    def runner(self) -> TaskRunner:
        return self._running_parts().runner

    @property
    def poller(self) -> Poller:
        return self._running_parts().poller

    @property
    def reporter(self) -> Reporter:
        return self._running_parts().reporter

    @property
    def listener(self) -> Listener | None:
        """The LISTEN connection's loop (None with ``signal="polling"``)."""
        return self._running_parts().listener

    async def start(self) -> None:
        """Compile the flows, register, and begin taking work. Returns once the worker runs."""
        if self._state != WorkerState.CREATED:
            raise ConfigurationError(f"this worker is {self._state}; a Worker starts once (create a new one)")
        self._state = WorkerState.STARTING
        self._started_at = time.monotonic()
        try:
            await self._start()
        except BaseException:
            self._state = WorkerState.STOPPED
            self._stopped.set()
            if self.db is not None:
                await self.db.close()
            raise
        self._state = WorkerState.RUNNING
        telemetry.execute("worker.start", {}, self._metadata())

    async def _start(self) -> None:
        self.conninfo = conninfo = await startup.resolve_conninfo(self._target)
        self.db = db = Database(conninfo, size=3, application_name=f"pgflow worker {self.name}")
        stored = await startup.compile_flows(db, self.flows, self.config.allow_data_loss)
        plans, queues = startup.plan(self.flows, stored, self.queue_worker_ids, self.config)
        await startup.register(db, self.name, self.queue_worker_ids)
        listen_db = listen_database(db) if self.config.signal == "notify" else None
        if listen_db is None and self.config.signal == "notify":  # behind a pooler without a direct URL
            self.config = dataclasses.replace(self.config, signal="polling")
        throttles = await startup.enable_notify(db, queues, self.config) if self.config.signal == "notify" else {}
        self._parts = parts = wire(
            database=db, config=self.config, name=self.name, conninfo=conninfo, flows=self.flows,
            worker_ids=self.queue_worker_ids, plans=plans, queues=queues, throttles=throttles,
            stopping=self.stopping, request_stop=self.request_stop, listen_database=listen_db,
        )
        await parts.runner.open_pool()
        self._spawn("reporter", parts.reporter.run())
        self._spawn("poller", parts.poller.run())
        if parts.listener is not None:
            self._spawn("listener", parts.listener.run())
        for service in self.services:
            self._spawn(f"service:{service.name}", self._keep_running(service, parts.ctx))
        self._spawn("supervisor", self._supervise())

    async def stop(self, timeout: float | None = None) -> None:
        """Stop gracefully (see the module docs); returns when everything is stopped."""
        if self._state == WorkerState.CREATED:
            self._state = WorkerState.STOPPED
            self._stopped.set()
            return
        self.request_stop("stopped", timeout=timeout)
        await self._stopped.wait()

    def request_stop(self, reason: str = "stopped", *, force: bool = False, timeout: float | None = None) -> None:
        """Ask the worker to stop (safe from signal handlers and callbacks); :meth:`wait` returns after."""
        if self._stop_requested.is_set():
            self._force = self._force or force
            if force and self._parts is not None:
                self._parts.runner.abandon_waiting()
            return
        self._stop_reason = reason
        self._force = force
        self._timeout = self.config.shutdown_timeout if timeout is None else timeout
        self._stop_requested.set()

    async def wait(self) -> None:
        """Wait until the worker has stopped (after :meth:`stop`, a signal, or deprecation)."""
        await self._stopped.wait()

    def run(self) -> None:
        """Start, serve until SIGINT/SIGTERM (or deprecation), stop gracefully. Blocks."""
        asyncio.run(self._run_with_signals())

    async def _run_with_signals(self) -> None:
        loop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
                installed.append(sig)
            except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows, non-main thread
                pass
        try:
            if not await self._start_unless_stopped():
                return
            self._say_started()
            await self.wait()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    async def _start_unless_stopped(self) -> bool:
        """Start, giving up at once when a stop is requested meanwhile (a worker that cannot reach
        its database keeps retrying its start-up calls for up to a minute); False if it gave up."""
        starting = asyncio.ensure_future(self.start())
        await wait_any(_done_event(starting), self._stop_requested, timeout=None)
        if not starting.done():
            starting.cancel()
            try:
                await starting
            except asyncio.CancelledError:
                log.info("stopped before the worker started (%s)", self._stop_reason)
                return False
        starting.result()
        return True

    def _say_started(self) -> None:
        """One line when ``run()`` serves: logged at INFO, or printed to stderr when the program
        configured no logging at all (a bare ``Worker(...).run()`` would say nothing otherwise)."""
        queues = ", ".join(self.queue_worker_ids)
        line = (f"pgflow worker {self.name} running: {len(self.flows)} flow(s) on queue(s) {queues}, "
                f"concurrency {self.config.max_concurrency}; Ctrl-C stops it")
        if logging.getLogger("pgflow").hasHandlers():
            log.info("%s", line)
        else:
            print(line, file=sys.stderr, flush=True)

    def _on_signal(self, sig: signal.Signals) -> None:
        if self._stop_requested.is_set():
            log.warning("%s again: handing back in-flight tasks now", sig.name)
            self.request_stop(sig.name, force=True)
        else:
            log.info("%s: stopping after in-flight tasks (up to %gs); send it again to stop now",
                     sig.name, self.config.shutdown_timeout)
            self.request_stop(sig.name)

    async def __aenter__(self) -> Worker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ internals

    def _running_parts(self) -> Parts:
        if self._parts is None:
            raise RuntimeError("the worker is not running: call `await worker.start()` (or `worker.run()`) first")
        return self._parts

    def _spawn(self, name: str, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        task.add_done_callback(lambda t, n=name: self._on_background_done(n, t))
        self._background[name] = task

    def _on_background_done(self, name: str, task: asyncio.Task[Any]) -> None:
        if task.cancelled() or name == "supervisor":
            return
        exc = task.exception()
        if exc is not None:
            log.error("worker component %s crashed: %r; stopping the worker", name, exc, exc_info=exc)
            self.request_stop(f"{name} crashed: {exc}")

    async def _keep_running(self, service: Service, ctx: WorkerContext) -> None:
        while True:
            try:
                await service.run(ctx)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("background service %s failed (%s); restarting it in 5 s", service.name, exc)
                await asyncio.sleep(5.0)

    async def _supervise(self) -> None:
        await self._stop_requested.wait()
        try:
            await self._shutdown()
        finally:
            self._state = WorkerState.STOPPED
            self._stopped.set()

    async def _shutdown(self) -> None:
        assert self.db is not None and self._parts is not None
        parts = self._parts
        self._state = WorkerState.STOPPING
        self.stopping.set()
        parts.poller.interrupt()
        parts.runner.shutdown.set()
        listener = self._background.get("listener")
        if listener is not None:
            listener.cancel()  # it holds nothing; notifications no longer matter
            await _finish(listener, timeout=1.0)
        await _finish(self._background["poller"], timeout=5.0)
        if not self._force:
            await parts.runner.wait_idle(self._timeout, lambda: self._force)
        leftovers = parts.runner.abandon_all()
        if leftovers:
            try:
                self.handed_back = await startup.hand_back(self.db, leftovers, self.queue_worker_ids)
            except Exception as exc:  # the database is gone: the sweeper of another worker requeues them
                log.error("could not hand back %d unfinished task(s) (%s); they will be requeued as stalled",
                          len(leftovers), exc)
            for claimed in leftovers:
                telemetry.execute("task.handed_back", {}, parts.runner.metadata(claimed))
        parts.reporter.close(timeout=10.0)
        await _finish(self._background["reporter"], timeout=15.0)
        for name, task in self._background.items():
            if name.startswith("service:"):
                task.cancel()
                await _finish(task, timeout=5.0)
        await startup.mark_stopped(self.db, self.worker_ids)
        await parts.runner.close()
        await self.db.close()
        telemetry.execute("worker.stop", {"duration": time.monotonic() - self._started_at,
                                          "handed_back": self.handed_back},
                          {**self._metadata(), "reason": self._stop_reason})

    @property
    def database(self) -> Database:
        """The worker's connection pool; it exists from ``start()`` until ``stop()`` ends."""
        if self.db is None:
            raise RuntimeError("the worker is not running: call `await worker.start()` (or `worker.run()`) first")
        return self.db

    def _metadata(self) -> dict[str, Any]:
        return {
            "worker_name": self.name,
            "worker_ids": [str(w) for w in self.worker_ids],
            "flows": [f.slug for f in self.flows],
            "queues": list(self.queue_worker_ids),
            "signal": self.config.signal,
            "max_concurrency": self.config.max_concurrency,
        }

    def __repr__(self) -> str:
        return f"<Worker {self.name} {self._state} flows=[{', '.join(f.slug for f in self.flows)}]>"


async def _finish(task: asyncio.Task[Any], timeout: float) -> None:
    """Wait for a background task to end by itself, cancelling it after ``timeout``."""
    if not task.done():
        await wait_any(_done_event(task), asyncio.Event(), timeout=timeout)
    if not task.done():
        task.cancel()
    try:
        await task
    except (asyncio.CancelledError, Exception):  # noqa: S110 - already logged by the done callback
        pass


def _done_event(task: asyncio.Task[Any]) -> asyncio.Event:
    event = asyncio.Event()
    task.add_done_callback(lambda _: event.set())
    return event
