"""Reading work: when to read which queue, and how many messages.

The poller reads the queues that are *due* (:class:`DueQueues`). A read takes as many messages
as there are free slots (at most ``batch_size`` per queue) and claims their tasks in the same
statement; a queue that returned fewer messages than asked is drained and is no longer due.
Queues become due:

- ``polling``: all of them after each wait; the wait is ``min_poll_interval`` after a read that
  found work and doubles (with jitter) up to ``max_poll_interval`` while the queues are empty;
- ``notify``: when pgmq's insert trigger notifies (see :mod:`pgflow.worker.listener`), and all
  of them every ``notify_fallback_interval``;
- either way: at once after this worker completes a task whose step has dependents, and at
  the moment a retry or a ``start_delay`` it knows of makes a message visible;
- flow control: a read that the database held work back from (a paused or limited flow: a row
  without a task) makes its queue due again after ``RECHECK_AFTER``, when a refused message is
  visible again, and at once when this worker finishes one of that queue's tasks (a slot freed).

The next read never waits for the slowest task of the previous batch: it waits only for a free slot.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import psycopg
from psycopg.rows import tuple_row

from pgflow import telemetry
from pgflow.worker.config import WorkerConfig
from pgflow.db import Database, Stopped
from pgflow.worker.executor import ClaimedTask

# a message refused by flow control is visible again after 250 ms (pgflow._admit_claims)
RECHECK_AFTER = 0.3


@dataclass(frozen=True)
class QueueInfo:
    """One queue served by the worker: a flow's queue (``lower(flow_slug)``), or with
    ``step_slug`` one step's private queue (a flow defined with ``step_queues=True``)."""

    name: str
    worker_id: UUID
    start_delays: tuple[int, ...] = ()
    flow_slug: str = ""
    step_slug: str | None = None


class Slots:
    """How many tasks may still start: ``max_concurrency`` minus those running."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0
        self._freed = asyncio.Event()

    @property
    def free(self) -> int:
        return self.capacity - self.used

    def take(self, count: int = 1) -> None:
        self.used += count

    def release(self) -> None:
        self.used -= 1
        self._freed.set()

    def interrupt(self) -> None:
        """Wake :meth:`wait_free` (the worker is stopping)."""
        self._freed.set()

    async def wait_free(self, stop: asyncio.Event) -> None:
        """Wait for a free slot; returns early once ``stop`` is set and :meth:`interrupt` called."""
        while self.free <= 0 and not stop.is_set():
            self._freed.clear()
            await self._freed.wait()


class DueQueues:
    """The queues due for a read, and the wake-ups that make them due.

    The listener (notifications), the reporter's follow-up (dependents, retries, start delays)
    and the services (a sweep) make queues due; the poller reads them and waits here while none is.
    """

    def __init__(self, queues: list[QueueInfo]) -> None:
        self.queues = {q.name: q for q in queues}
        self.order = list(self.queues)
        # a wake-up names a queue, or a flow (all of its queues)
        self._keys: dict[str, list[str]] = {name: [name] for name in self.order}
        for q in queues:
            if q.flow_slug and q.flow_slug != q.name:
                self._keys.setdefault(q.flow_slug, []).append(q.name)
        self.names: set[str] = set(self.order)  # due now
        self.wakes: dict[str, int] = dict.fromkeys(self.order, 0)  # wake-ups per queue, ever
        self.held_back: set[str] = set()  # queues whose last read flow control held work back from
        self.busy = False  # a read is in progress or due (set by the poller)
        self._waiter: asyncio.Future[bool] | None = None  # the poller's idle wait, resolved by a wake-up
        self._timers: dict[tuple[str | None, int], asyncio.TimerHandle] = {}

    def wake(self, queue: str | None = None) -> None:
        """Make ``queue`` (a queue name or a flow slug; None: every queue) due for a read now."""
        names = self.order if queue is None else self._keys.get(queue, [])
        for name in names:
            self.names.add(name)
            self.wakes[name] += 1
        if names:
            self.resume(True)

    def wake_later(self, delay: float, queue: str | None = None) -> None:
        """Make ``queue`` due after ``delay`` seconds (a retry or a start_delay ends then)."""
        loop = asyncio.get_running_loop()
        key = (queue, int((loop.time() + delay) * 20))  # coalesce wake-ups within 50 ms
        if key in self._timers:
            return

        def fire() -> None:
            self._timers.pop(key, None)
            self.wake(queue)

        self._timers[key] = loop.call_later(max(delay, 0.0), fire)

    def hold(self, queue: str, held_back: bool) -> None:
        """Flow control held work back from the last read of ``queue`` (or not): read it again
        once refused messages are visible, or sooner when :meth:`freed`."""
        if held_back:
            self.held_back.add(queue)
            self.wake_later(RECHECK_AFTER, queue)
        else:
            self.held_back.discard(queue)

    def freed(self, queue: str) -> None:
        """A task of ``queue`` (a queue name or a flow slug) finished here: its slot is free, so a
        queue held back by flow control is read again now."""
        for name in self._keys.get(queue, []):
            if name in self.held_back:
                self.held_back.discard(name)
                self.wake(name)

    def notified(self, queue: str, throttle_ms: int) -> None:
        """pgmq notified an insert: read now, again once its throttle window has passed (inserts
        inside the window send no notification), and when the flow's start delays end."""
        self.wake(queue)
        self.wake_later(throttle_ms / 1000 + 0.02, queue)
        info = self.queues.get(queue)
        for delay in info.start_delays if info else ():
            self.wake_later(delay + 0.05, queue)

    def resume(self, woken: bool) -> None:
        """End the current :meth:`idle` wait (``woken``: because of a wake-up)."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(woken)

    async def idle(self, timeout: float) -> bool:
        """Wait for a wake-up (True) or ``timeout`` seconds (False)."""
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(timeout, self.resume, False)
        try:
            return await waiter
        finally:
            timer.cancel()
            self._waiter = None

    def cancel_timers(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()


class Poller:
    def __init__(
        self,
        db: Database,
        config: WorkerConfig,
        slots: Slots,
        due: DueQueues,
        dispatch: Callable[[list[ClaimedTask]], None],
        stop: asyncio.Event,
    ) -> None:
        self._db = db
        self._config = config
        self._slots = slots
        self._due = due
        self._dispatch = dispatch
        self._stop = stop
        self.reads = 0

    @property
    def busy(self) -> bool:
        """A read is in progress or due."""
        return self._due.busy

    @property
    def queue_names(self) -> list[str]:
        """The pgmq queues this poller reads (a flow's queue, or each of its steps' queues)."""
        return list(self._due.order)

    def interrupt(self) -> None:
        """End the loop's waits now (the worker is stopping: ``stop`` is set)."""
        self._due.resume(True)
        self._slots.interrupt()

    # ------------------------------------------------------------------ the loop

    async def run(self) -> None:
        interval = self._config.min_poll_interval
        polling = self._config.signal == "polling"
        due = self._due
        errors_backoff = 1.0
        try:
            while not self._stop.is_set():
                if not due.names:
                    due.busy = False
                    wait = interval if polling else self._config.notify_fallback_interval
                    if not await due.idle(wait):
                        due.names.update(due.order)  # a poll tick, or the notify fallback
                    continue
                due.busy = True
                await self._slots.wait_free(self._stop)
                if self._stop.is_set():
                    break
                try:
                    found = await self._read_due()
                except psycopg.Error:
                    # not a lost connection (those are retried inside): an error of the query itself,
                    # reported as poll.exception; back off so a broken queue cannot spin the loop
                    await wait_any(asyncio.Event(), self._stop, timeout=min(errors_backoff, 30.0))
                    errors_backoff *= 2
                    continue
                errors_backoff = 1.0
                if polling:
                    interval = self._config.min_poll_interval if found else min(
                        interval * 2 * random.uniform(0.8, 1.2), self._config.max_poll_interval)
        except Stopped:
            pass
        finally:
            due.cancel_timers()

    async def _read_due(self) -> bool:
        """Read the due queues in turn while slots are free; True when any message came back."""
        found = False
        due = self._due
        start = self.reads % len(due.order)
        for name in due.order[start:] + due.order[:start]:
            if name not in due.names:
                continue
            free = self._slots.free
            if free <= 0 or self._stop.is_set():
                break
            qty = min(self._config.batch_size, free)
            wakes = due.wakes[name]
            tasks, messages, held_back = await self._claim(due.queues[name], qty)
            self.reads += 1
            due.hold(name, held_back)
            if messages < qty and due.wakes[name] == wakes:
                # drained, and no wake-up came during the read (its messages may be newer than the read)
                due.names.discard(name)
            found = found or messages > 0
            if tasks:
                self._slots.take(len(tasks))
                self._dispatch(tasks)
        return found

    async def _claim(self, queue: QueueInfo, qty: int) -> tuple[list[ClaimedTask], int, bool]:
        with telemetry.span("poll", {"queue": queue.name, "qty": qty}) as span:
            rows = await self._db.fetch(
                "worker_claim_tasks",
                {"queue_name": queue.name, "qty": qty, "worker_id": queue.worker_id, "step_slug": queue.step_slug},
                stop=self._stop, row_factory=tuple_row,
            )
            messages = rows[0][0] if rows else 0
            # columns: messages, flow_slug, run_id, step_slug, input, msg_id, task_index, flow_input, attempt
            tasks = [ClaimedTask(r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8] or 1, queue.name)
                     for r in rows if r[2] is not None]
            if tasks and telemetry.wants("task.start"):  # a tracer wants task spans: their runs' traces
                traces = await self._db.fetch("worker_trace_contexts", {"run_ids": list({t.run_id for t in tasks})},
                                              stop=self._stop, row_factory=tuple_row)
                if traces:
                    by_run = dict(traces)
                    for task in tasks:
                        task.trace_context = by_run.get(task.run_id)
            span.measurements.update(messages=messages, tasks=len(tasks))
        # a row without a task: messages that gave none, or flow control held work back
        return tasks, messages, len(tasks) < len(rows)


async def wait_any(event: asyncio.Event, stop: asyncio.Event, timeout: float | None = None) -> bool:
    """Wait until ``event`` or ``stop`` is set (True) or ``timeout`` passes (False)."""
    if event.is_set() or stop.is_set():
        return True
    waiters = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(stop.wait())]
    try:
        done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
        await asyncio.wait(waiters)  # let them end here, not pending after the loop is gone
    return bool(done)
