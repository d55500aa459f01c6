"""Running claimed tasks: a handler call each (pgflow.worker.executor), then the reporter.

Each claimed task takes a slot (taken by the poller) until its handler is done. Its outcome goes
to the reporter unless the task was *abandoned* at shutdown: then it has been handed back to its
queue and another worker owns it, so its late result is dropped and never reported.

The per-task path is the worker's hot loop: a ``Context`` is built only for handlers that take
one, and the ``task`` telemetry events (and their metadata) only when a handler wants them.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Collection
from typing import Any
from uuid import UUID

from pgflow import telemetry
from pgflow.context import _MISSING, Context
from pgflow.worker.context import WorkerContext
from pgflow.worker.executor import ClaimedTask, HandlerCall, Outcome, TimeoutGroup
from pgflow.worker.poller import Slots, wait_any
from pgflow.worker.threads import ThreadRunner

FLOW_INPUT_CACHE = 256  # runs whose input is kept in memory


class TaskRunner:
    """Starts claimed tasks and hands each outcome to ``submit`` (the reporter's)."""

    def __init__(self, ctx: WorkerContext, slots: Slots, submit: Callable[[Outcome], None]) -> None:
        # what the per-task path reads, one attribute away
        self._plans = ctx.plans
        self._worker_ids = ctx.worker_ids
        self._worker_name = ctx.name
        self._conninfo = ctx.conninfo
        self._database = ctx.database
        self._error_detail = ctx.config.error_detail
        self._slots = slots
        self._submit = submit
        self._running: dict[HandlerCall, telemetry.Span | None] = {}  # call -> its task span, if begun
        self._idle = asyncio.Event()
        self._idle.set()
        self._threads = ThreadRunner()
        self._flow_inputs: OrderedDict[UUID, Any] = OrderedDict()
        self._user_pool: Any = None
        self.shutdown = asyncio.Event()  # ctx.shutdown of every task
        self._forced = asyncio.Event()  # a forced stop: wait_idle returns at once
        self.started = 0
        self._cancel_grace = ctx.config.cancel_grace
        self._cancelled: dict[HandlerCall, asyncio.TimerHandle | None] = {}  # calls whose run was cancelled

    # ------------------------------------------------------------------ dispatch

    def dispatch(self, tasks: list[ClaimedTask]) -> None:
        """Start claimed tasks (their slots are already taken)."""
        plans = self._plans
        threads = self._threads
        spans = telemetry.wants("task.start")
        timed: dict[int, list[HandlerCall]] = {}  # timeout -> the calls still running
        for task in tasks:
            plan = plans[(task.flow_slug, task.step_slug)]
            step = plan.step
            if plan.keeps_flow_input:
                self._remember_input(task.run_id, task.flow_input)
            call = HandlerCall(step, task, plan.timeout, self._done, self._error_detail)
            span = self._running[call] = telemetry.begin("task", self.metadata(task)) if spans else None
            self._idle.clear()
            self.started += 1
            with telemetry.activate(span):  # a tracer's task span is current for the handler
                call.start(self._context(task, plan.root_single) if step.takes_context else None, threads, timer=False)
            if not call.over:
                timed.setdefault(plan.timeout, []).append(call)
        for calls in timed.values():
            TimeoutGroup(calls)

    def _done(self, call: HandlerCall, outcome: Outcome | None) -> None:
        """A handler call ended (``outcome`` None: cancelled at shutdown, nothing to report)."""
        self._slots.release()
        span = self._running.pop(call, None)
        if not self._running:
            self._idle.set()
        if self._cancelled and call in self._cancelled:  # its run was cancelled: nothing to report
            self._ignore(call, outcome, span)
            return
        event = "task.stop" if outcome is not None and outcome.completed else "task.exception"
        if span is not None or telemetry.wants(event):
            if span is None:
                span = telemetry.Span("task", {**self.metadata(call.task), "span_id": telemetry.next_span_id()})
            if outcome is None:
                span.end(asyncio.CancelledError(), duration=call.elapsed)
            else:
                if not outcome.completed:
                    span.fail(outcome.kind, outcome.error)
                span.end(duration=outcome.duration)
        if outcome is not None:
            self._submit(outcome)

    def metadata(self, task: ClaimedTask) -> dict[str, Any]:
        found = {
            "flow_slug": task.flow_slug, "step_slug": task.step_slug, "run_id": task.run_id,
            "task_index": task.task_index, "attempt": task.attempt, "msg_id": task.msg_id,
            "worker_id": self._worker_ids.get(task.flow_slug), "worker_name": self._worker_name,
        }
        if task.trace_context is not None:
            found["trace_context"] = task.trace_context
        return found

    # ------------------------------------------------------------------ cancelled runs

    def running_runs(self) -> set[UUID]:
        """The runs of the tasks in flight (the heartbeat asks which of them were cancelled)."""
        return {call.task.run_id for call in self._running}

    def cancel_runs(self, run_ids: Collection[UUID]) -> None:
        """These runs were cancelled: their handlers' results no longer count. ``ctx.cancelled``
        turns true at once; an async handler still running after ``cancel_grace`` seconds is
        cancelled (``asyncio.CancelledError`` at its next await); a sync one runs on (Python
        cannot stop a thread) unless it polls ``ctx.cancelled``. Nothing is reported for them."""
        ids = set(run_ids)
        loop = asyncio.get_running_loop()
        for call in list(self._running):
            if call.task.run_id not in ids or call in self._cancelled or call.over:
                continue
            if call.ctx is not None:
                call.ctx._cancelled.set()
            self._cancelled[call] = loop.call_later(self._cancel_grace, call.cancel) if call.step.is_async else None

    def _ignore(self, call: HandlerCall, outcome: Outcome | None, span: telemetry.Span | None) -> None:
        """The end of a call whose run was cancelled: logged once (task.cancelled), never reported."""
        timer = self._cancelled.pop(call)
        if timer is not None:
            timer.cancel()
        ended = ("cancelled after the grace period" if outcome is None
                 else "its handler returned" if outcome.completed else "its handler failed")
        if span is not None:  # a tracer's span of it ends as cancelled
            span.fail("cancelled", "its run was cancelled")
            span.end(duration=call.elapsed)
        telemetry.execute("task.cancelled", {"duration": call.elapsed}, {**self.metadata(call.task), "ended": ended})

    # ------------------------------------------------------------------ context

    def _context(self, task: ClaimedTask, root_single: bool) -> Context:
        known = task.flow_input if root_single else self._flow_inputs.get(task.run_id, _MISSING)
        return Context(
            run_id=task.run_id, flow_slug=task.flow_slug, step_slug=task.step_slug, task_index=task.task_index,
            attempt=task.attempt, worker_id=self._worker_ids.get(task.flow_slug), msg_id=task.msg_id,
            conninfo=self._conninfo, shutdown=self.shutdown, _flow_input=known,
            _load_flow_input=self._load_flow_input, _loop=asyncio.get_running_loop(), _pool_factory=self._pool,
        )

    def _remember_input(self, run_id: UUID, value: Any) -> None:
        self._flow_inputs[run_id] = value
        self._flow_inputs.move_to_end(run_id)
        if len(self._flow_inputs) > FLOW_INPUT_CACHE:
            self._flow_inputs.popitem(last=False)

    async def _load_flow_input(self, run_id: UUID) -> Any:
        if run_id in self._flow_inputs:
            return self._flow_inputs[run_id]
        rows = await self._database.fetch("worker_run_input", {"run_id": run_id})
        value = rows[0]["input"] if rows else None
        self._remember_input(run_id, value)
        return value

    async def open_pool(self) -> None:
        """The pool handlers reach as ``ctx.pool``: no connection until a handler asks for one."""
        from psycopg_pool import AsyncConnectionPool

        from pgflow.db.dsn import connect_options

        self._user_pool = AsyncConnectionPool(
            self._conninfo, min_size=0, max_size=4, open=False,
            kwargs={"autocommit": True, **connect_options(self._conninfo)},
            name=f"pgflow-handlers-{self._worker_name}",
        )
        await self._user_pool.open()

    def _pool(self) -> Any:
        return self._user_pool

    # ------------------------------------------------------------------ shutdown

    async def wait_idle(self, timeout: float, forced: Callable[[], bool]) -> None:
        """Wait up to ``timeout`` s for in-flight tasks to finish (or until forced)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._running and not forced():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return
            await wait_any(self._idle, self._forced, timeout=remaining)

    def abandon_waiting(self) -> None:
        """A forced stop: end :meth:`wait_idle` now."""
        self._forced.set()

    def abandon_all(self) -> list[ClaimedTask]:
        """Give up the tasks still running: cancel them, never report them; returns them."""
        left = list(self._running)
        for call in left:
            call.cancel()  # ends it without an outcome: never reported
        return [c.task for c in left]

    async def close(self) -> None:
        self._threads.close()
        if self._user_pool is not None:
            await self._user_pool.close()
