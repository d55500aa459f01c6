"""Reporting outcomes: ``complete_tasks`` and ``fail_task``, many per round trip.

Outcomes queue up while a report is in flight (and, while the worker is busy claiming more,
for ``linger`` seconds); the next report takes all of them (up to ``max_batch``) in one
statement (``worker_report_tasks``: one set-based ``complete_tasks`` call for the completions,
``fail_task`` for each failure), pipelined with a read of the runs that ended when telemetry
wants run events: one round trip and one commit for a whole batch. Tasks of several steps of one
run go to separate statements, so two workers never lock in opposite orders. If the batch fails
for a reason other than a lost connection, each outcome is reported on its own, so one bad task
cannot hold back the others. Lost connections are retried until the worker's shutdown deadline
(see :class:`pgflow.db.Database`).

An outcome the database refuses on its own :data:`REPORT_TRIES` times (a trigger, a constraint, a
statement timeout...) is reported as a failure whose error says why (``ReportRefused: ...``):
its task fails (and is retried as its step allows) instead of staying started until it is
requeued as stalled, run again, and refused again, forever.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.rows import dict_row, tuple_row

from pgflow import telemetry
from pgflow.db.queries import query
from pgflow.db import Database, Stopped, first_line, is_transient
from pgflow.models import TaskStatus
from pgflow.worker.executor import Outcome

log = logging.getLogger("pgflow.worker")

REPORT_TRIES = 3  # a refused outcome is sent alone this many times before its refusal is reported

Reported = Callable[[list[Outcome], list[dict[str, Any]]], None]


class Reporter:
    """``linger``: while ``busy()`` says more work is being claimed and fewer than half of
    ``max_batch`` outcomes are queued, wait that many seconds before reporting, so that a busy
    worker reports in larger batches (each ``complete_tasks`` call has a fixed cost); an idle
    worker reports at once."""

    def __init__(self, db: Database, on_reported: Reported, max_batch: int = 200, linger: float = 0.0,
                 busy: Callable[[], bool] = lambda: False) -> None:
        self._db = db
        self._on_reported = on_reported
        self._max_batch = max_batch
        self._linger = linger
        self._busy = busy
        self._pending: list[Outcome] = []
        self._wakeup = asyncio.Event()
        self._closing = False
        self._give_up = asyncio.Event()  # set at the shutdown deadline: stop retrying
        self.reported = 0

    def submit(self, outcome: Outcome) -> None:
        self._pending.append(outcome)
        self._wakeup.set()

    @property
    def backlog(self) -> int:
        return len(self._pending)

    async def run(self) -> None:
        """Report outcomes as they come, until :meth:`close` and an empty queue."""
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            if self._linger and not self._closing and len(self._pending) < self._max_batch // 2 and self._busy():
                await asyncio.sleep(self._linger)
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch:]
            began = asyncio.get_running_loop().time()
            try:
                finished = await self._report(batch)
            except (Stopped, psycopg.Error, OSError) as exc:
                if self._give_up.is_set():
                    log.error("could not report %d task outcome(s) before the shutdown deadline (%s); "
                              "their tasks will be requeued as stalled", len(batch) + len(self._pending), exc)
                    self._pending.clear()
                    return
                raise
            self.reported += len(batch)
            if telemetry.wants("task.reported"):
                _traced_reports(batch, asyncio.get_running_loop().time() - began)
            self._on_reported(batch, finished)

    def close(self, timeout: float) -> None:
        """Finish what is queued, retrying lost connections for up to ``timeout`` seconds."""
        self._closing = True
        asyncio.get_running_loop().call_later(max(timeout, 0.0), self._give_up.set)
        self._wakeup.set()

    async def _report(self, batch: list[Outcome]) -> list[dict[str, Any]]:
        try:
            return await self._call("worker_report_batch", batch)
        except Exception as exc:
            if _retried_out(exc):
                raise
            if len(batch) == 1:
                return await self._report_alone(batch[0], exc, tries=1)
            log.warning("reporting %d outcomes together failed (%s); reporting them one by one", len(batch), exc)
        finished: list[dict[str, Any]] = []
        for outcome in batch:
            finished += await self._report_alone(outcome, None, tries=0)
        return finished

    async def _report_alone(self, outcome: Outcome, refused: Exception | None, tries: int) -> list[dict[str, Any]]:
        """Report one outcome; refused :data:`REPORT_TRIES` times, report the refusal as its failure
        (``outcome`` then becomes that failure, so the counts and events say what was stored)."""
        while tries < REPORT_TRIES:
            tries += 1
            try:
                return await self._call("worker_report_one", [outcome])
            except Exception as exc:
                if _retried_out(exc):
                    raise
                refused = exc
        assert refused is not None
        _log_report_failure(outcome, refused, tries)
        for error in _refusal_errors(outcome, refused, tries):
            instead = Outcome(outcome.task, "report", error=error, duration=outcome.duration)
            try:
                finished = await self._call("worker_report_one", [instead])
            except Exception as exc:
                if _retried_out(exc):
                    raise
                continue
            outcome.kind, outcome.error, outcome.output_json = instead.kind, instead.error, None
            return finished
        log.error("the database refused the failure of task %s/%s[%d] run %s too; it stays started and will "
                  "be requeued as stalled", outcome.task.flow_slug, outcome.task.step_slug, outcome.task.task_index,
                  outcome.task.run_id)
        return []

    async def _call(self, label: str, outcomes: list[Outcome]) -> list[dict[str, Any]]:
        return await self._db.call(label, lambda conn: _report_batch(conn, outcomes), stop=self._give_up)


def _retried_out(exc: BaseException) -> bool:
    """A lost connection still lost at the shutdown deadline (the others are errors of a report)."""
    return isinstance(exc, Stopped) or is_transient(exc)


async def _report_batch(conn: psycopg.AsyncConnection[Any], batch: list[Outcome]) -> list[dict[str, Any]]:
    """Report ``batch`` in as few statements as deadlock safety allows (usually one); return the
    runs among the batch's that are over, when a telemetry handler wants run events.

    Those are read in the same round trip when ``run.completed`` is wanted; when only ``run.failed``
    is, they are read afterwards and only if some report did not end in a completed task (only a
    failure, or a report to a run that failed meanwhile, can leave a run failed); else never.
    """
    rounds = _rounds(batch)
    read_runs = telemetry.wants("run.completed")
    runs = conn.cursor(row_factory=dict_row)
    reports = []
    for number, part in enumerate(rounds, 1):
        async with conn.pipeline():
            cur = conn.cursor(row_factory=tuple_row)
            reports.append(cur)
            await cur.execute(query("worker_report_tasks"), {"outcomes": outcomes_json(part)})
            if read_runs and number == len(rounds):
                await _read_finished_runs(runs, batch)
    if not read_runs:
        if not telemetry.wants("run.failed") or not await _any_not_completed(reports):
            return []
        await _read_finished_runs(runs, batch)
    return await runs.fetchall()


async def _read_finished_runs(cur: psycopg.AsyncCursor[Any], batch: list[Outcome]) -> None:
    await cur.execute(query("worker_finished_runs"), {"run_ids": sorted({o.task.run_id for o in batch}, key=str)})


async def _any_not_completed(reports: list[psycopg.AsyncCursor[Any]]) -> bool:
    """True when some report (``worker_report_tasks`` rows: ord, status) left its task other than completed."""
    for cur in reports:
        if any(status != TaskStatus.COMPLETED for _, status in await cur.fetchall()):
            return True
    return False


def outcomes_json(outcomes: list[Outcome]) -> str:
    """The ``outcomes`` parameter of ``worker_report_tasks``: a JSON array with, per outcome,
    ``[run_id, step_slug, task_index, true, output]`` or ``[... false, error_message]`` (an
    output is JSON text already, so it is spliced in as it is)."""
    items = []
    for o in outcomes:
        t = o.task
        head = f'["{t.run_id}",{_json_text(t.step_slug)},{int(t.task_index)},'
        if o.kind == "completed" and o.output_json is not None:
            items.append(f"{head}true,{o.output_json}]")
        else:
            items.append(f"{head}false,{json.dumps(o.error)}]")
    return "[" + ",".join(items) + "]"


@functools.lru_cache(maxsize=1024)
def _json_text(text: str) -> str:
    return json.dumps(text)


def _rounds(batch: list[Outcome]) -> list[list[Outcome]]:
    """Split into statements holding at most one step per run, each sorted by run, step, task
    (uuid order is the order of the uuids' integer values, as in PostgreSQL)."""
    ordered = sorted(batch, key=lambda o: (o.task.run_id.int, o.task.step_slug, o.task.task_index))
    if all(a.task.run_id != b.task.run_id or a.task.step_slug == b.task.step_slug
           for a, b in zip(ordered, ordered[1:])):
        return [ordered]  # no run with two steps here (the usual case): one statement
    steps_of_run: dict[Any, list[str]] = {}
    rounds: list[list[Outcome]] = []
    for outcome in ordered:
        steps = steps_of_run.setdefault(outcome.task.run_id, [])
        if outcome.task.step_slug not in steps:
            steps.append(outcome.task.step_slug)
        number = steps.index(outcome.task.step_slug)
        while len(rounds) <= number:
            rounds.append([])
        rounds[number].append(outcome)
    return rounds


def _refusal_errors(outcome: Outcome, exc: BaseException, tries: int) -> list[str]:
    """The error to store instead of a refused outcome; then a plainer one, in case the refused
    text itself was the trouble."""
    what = "completion" if outcome.completed else "failure"
    reason = first_line(exc).replace("\x00", "\\x00")[:500]
    return [
        f"ReportRefused: the database refused this task's {what} {tries} times ({type(exc).__name__}: {reason}); "
        f"the task fails rather than being run again and again. Check what the handler returned "
        f"(and the triggers or constraints on pgflow's tables); the worker's log has the details",
        f"ReportRefused: the database refused this task's {what} {tries} times; see the worker's log",
    ]


def _log_report_failure(outcome: Outcome, exc: BaseException, tries: int) -> None:
    t = outcome.task
    log.error("the database refused the %s of task %s/%s[%d] run %s %d times: %s; reporting the refusal as "
              "the task's failure", "completion" if outcome.completed else "failure",
              t.flow_slug, t.step_slug, t.task_index, t.run_id, tries, exc)


def _traced_reports(batch: list[Outcome], duration: float) -> None:
    """``task.reported`` for each outcome of a stored batch (a tracer's complete/fail spans)."""
    for outcome in batch:
        task = outcome.task
        telemetry.execute("task.reported", {"duration": duration, "batch": len(batch)}, {
            "flow_slug": task.flow_slug, "step_slug": task.step_slug, "run_id": task.run_id,
            "task_index": task.task_index, "attempt": task.attempt,
            "outcome": "completed" if outcome.completed else "failed"})
