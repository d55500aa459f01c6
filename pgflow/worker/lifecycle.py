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
import logging
import signal
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from pgflow import telemetry
from pgflow.dsl.flow import Flow
from pgflow.errors import ConfigurationError
from pgflow.worker import startup
from pgflow.worker.config import WorkerConfig
from pgflow.worker.database import Database
from pgflow.worker.executor import Outcome
from pgflow.worker.listener import Listener
from pgflow.worker.plan import StepPlan
from pgflow.worker.poller import Poller, Slots, wait_any
from pgflow.worker.reporter import Reporter
from pgflow.worker.runner import TaskRunner
from pgflow.worker.services import Service, default_services

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
        name: str | None = None,
        allow_data_loss: bool = False,
        scheduler: bool = True,
    ) -> None:
        self.config = WorkerConfig(
            max_concurrency=max_concurrency, batch_size=batch_size, signal=signal,
            min_poll_interval=min_poll_interval, max_poll_interval=max_poll_interval,
            notify_fallback_interval=notify_fallback_interval, report_linger=report_linger,
            heartbeat_interval=heartbeat_interval,
            recovery_interval=recovery_interval, stale_threshold=stale_threshold,
            shutdown_timeout=shutdown_timeout, name=name, allow_data_loss=allow_data_loss,
            scheduler=scheduler,
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
        self._state = "created"
        self._background: dict[str, asyncio.Task[Any]] = {}
        self._reported_runs: OrderedDict[UUID, None] = OrderedDict()
        self._started_at = 0.0
        self.db: Database | None = None
        self.plans: dict[tuple[str, str], StepPlan] = {}
        self.handed_back = 0
        self.completed = 0  # tasks this worker completed / failed (reported to the database)
        self.failed = 0

    # ------------------------------------------------------------------ public API

    @property
    def worker_ids(self) -> list[UUID]:
        """The ids of this worker's rows in ``pgflow.workers`` (one per queue)."""
        return list(self.queue_worker_ids.values())

    @property
    def state(self) -> str:
        """created, starting, running, stopping or stopped."""
        return self._state

    @property
    def in_flight(self) -> int:
        slots = getattr(self, "_slots", None)
        return slots.used if slots is not None else 0

    async def start(self) -> None:
        """Compile the flows, register, and begin taking work. Returns once the worker runs."""
        if self._state != "created":
            raise ConfigurationError(f"this worker is {self._state}; a Worker starts once (create a new one)")
        self._state = "starting"
        self._started_at = time.monotonic()
        try:
            await self._start()
        except BaseException:
            self._state = "stopped"
            self._stopped.set()
            if self.db is not None:
                await self.db.close()
            raise
        self._state = "running"
        telemetry.execute("worker.start", {}, self._metadata())

    async def _start(self) -> None:
        self.conninfo = await startup.resolve_conninfo(self._target)
        self.db = Database(self.conninfo, size=3, application_name=f"pgflow worker {self.name}")
        stored = await startup.compile_flows(self.db, self.flows, self.config.allow_data_loss)
        self.plans, queues = startup.plan(self.flows, stored, self.queue_worker_ids, self.config)
        await startup.register(self.db, self.name, self.queue_worker_ids)
        throttles = await startup.enable_notify(self.db, queues, self.config) if self.config.signal == "notify" else {}
        self._slots = Slots(self.config.max_concurrency)
        self.runner = TaskRunner(self, self._slots)
        await self.runner.open_pool()
        self.poller = Poller(self.db, queues, self.config, self._slots, self.runner.dispatch, self.stopping)
        self.reporter = Reporter(self.db, self._on_reported, linger=self.config.report_linger,
                                 busy=lambda: self.poller.busy)
        self._spawn("reporter", self.reporter.run())
        self._spawn("poller", self.poller.run())
        if throttles:
            self.listener = Listener(self.db, throttles, self.poller.queue_notified, self.poller.wake, self.stopping)
            self._spawn("listener", self.listener.run())
        for service in self.services:
            self._spawn(f"service:{service.name}", self._keep_running(service))
        self._spawn("supervisor", self._supervise())

    async def stop(self, timeout: float | None = None) -> None:
        """Stop gracefully (see the module docs); returns when everything is stopped."""
        if self._state == "created":
            self._state = "stopped"
            self._stopped.set()
            return
        self.request_stop("stopped", timeout=timeout)
        await self._stopped.wait()

    def request_stop(self, reason: str = "stopped", *, force: bool = False, timeout: float | None = None) -> None:
        """Ask the worker to stop (safe from signal handlers and callbacks); :meth:`wait` returns after."""
        if self._stop_requested.is_set():
            self._force = self._force or force
            runner = getattr(self, "runner", None)
            if force and runner is not None:
                runner.abandon_waiting()
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
            await self.start()
            await self.wait()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

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

    # ------------------------------------------------------------------ helpers for components

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def poller_wake(self, queue: str | None = None) -> None:
        self.poller.wake(queue)

    # ------------------------------------------------------------------ internals

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

    async def _keep_running(self, service: Service) -> None:
        while True:
            try:
                await service.run(self)
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
            self._state = "stopped"
            self._stopped.set()

    async def _shutdown(self) -> None:
        assert self.db is not None
        self._state = "stopping"
        self.stopping.set()
        self.poller.interrupt()
        self.runner.shutdown.set()
        listener = self._background.get("listener")
        if listener is not None:
            listener.cancel()  # it holds nothing; notifications no longer matter
            await _finish(listener, timeout=1.0)
        await _finish(self._background["poller"], timeout=5.0)
        if not self._force:
            await self.runner.wait_idle(self._timeout, lambda: self._force)
        leftovers = self.runner.abandon_all()
        if leftovers:
            try:
                self.handed_back = await startup.hand_back(self.db, leftovers, self.queue_worker_ids)
            except Exception as exc:  # the database is gone: the sweeper of another worker requeues them
                log.error("could not hand back %d unfinished task(s) (%s); they will be requeued as stalled",
                          len(leftovers), exc)
            for claimed in leftovers:
                telemetry.execute("task.handed_back", {}, self.runner.metadata(claimed))
        self.reporter.close(timeout=10.0)
        await _finish(self._background["reporter"], timeout=15.0)
        for name, task in self._background.items():
            if name.startswith("service:"):
                task.cancel()
                await _finish(task, timeout=5.0)
        await startup.mark_stopped(self.db, self.worker_ids)
        await self.runner.close()
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

    def _on_reported(self, batch: list[Outcome], finished_runs: list[dict[str, Any]]) -> None:
        """After outcomes are committed: wake the poller where new work may be, emit run events."""
        for outcome in batch:
            if outcome.completed:
                self.completed += 1
            else:
                self.failed += 1
            plan = self.plans.get((outcome.task.flow_slug, outcome.task.step_slug))
            if plan is None:
                continue
            queue = outcome.task.flow_slug
            if outcome.completed:
                if plan.has_dependents:
                    self.poller.wake(queue)
                for delay in plan.dependent_start_delays:
                    self.poller.wake_later(delay + 0.05, queue)
            else:
                retry_in = plan.retry_delay(outcome.task.attempt)
                if retry_in is not None:
                    self.poller.wake_later(retry_in + 0.05, queue)
        for row in finished_runs:
            if row["run_id"] in self._reported_runs:
                continue
            self._reported_runs[row["run_id"]] = None
            if len(self._reported_runs) > 10_000:
                self._reported_runs.popitem(last=False)
            event = "run.completed" if row["status"] == "completed" else "run.failed"
            telemetry.execute(event, {}, {"run_id": row["run_id"], "flow_slug": row["flow_slug"],
                                          "error_message": row.get("error_message"), "worker_name": self.name})

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
