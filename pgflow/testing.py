"""Helpers for users' tests: run a flow inline, or drain its queue with a real worker.

    from pgflow.testing import run_inline, drain

    def test_order_totals():                       # a unit test: no database
        run = run_inline(order, {"items": [1, 2]})
        assert run.output == {"total": 3}
        assert run.step("charge").attempts == 1

    def test_checkout(client):                     # an integration test: a real database
        run_id = client.start_flow(order, {"items": [1, 2]})
        drain(client, [order])                     # a worker processes until the queues are empty
        assert client.get_run(run_id).status == "completed"

``run_inline`` follows pgflow's semantics: steps in definition (topological) order, handler
inputs as the worker gives them, outputs passed through JSON (objects in jsonb's key order), map
steps over arrays (empty arrays complete with ``[]``), conditions (``if_`` / ``if_not`` matched
like PostgreSQL's ``@>``, ``when_unmet``; settled as soon as a step is ready), retries up to
``max_attempts`` (without waiting out the backoff), ``when_exhausted``, and the type violation of
a step feeding a map step with a non-array. Async handlers are awaited (with their step timeout);
sync ones are called directly. ``ctx.flow_input`` is known where a worker guarantees it (root
single steps, sync handlers); an async handler elsewhere must ``await ctx.get_flow_input()``. It
ignores ``start_delay``, and leaves the steps after a failure ``created``. The engine is the
reference: tests/integration/test_inline_parity.py runs the same flows both ways and compares
the outcomes.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar, Union
from uuid import UUID

from pgflow.context import Context
from pgflow.dsl.flow import Flow
from pgflow.dsl.step import StepDefinition
from pgflow.errors import PgFlowError, RunFailed
from pgflow.models import RunStatus, StepStatus, TaskStatus
from pgflow.ops.common import check_flow_input, json_text, json_type
from pgflow.worker.executor import ClaimedTask, execute

T = TypeVar("T")
NO_SIGNAL: Any = object()  # what a run_inline signals callback returns for "no signal (yet)"
Signals = Union[Mapping[str, Any], Callable[[str, Any], Any], None]

__all__ = ["NO_SIGNAL", "DrainResult", "InlineRun", "InlineStep", "InlineTask", "drain", "drain_async", "run_inline",
           "run_inline_async"]


@dataclass
class InlineTask:
    task_index: int
    status: TaskStatus = TaskStatus.QUEUED
    attempts: int = 0
    output: Any = None
    error_message: str | None = None


@dataclass
class InlineStep:
    step_slug: str
    status: StepStatus = StepStatus.CREATED
    output: Any = None
    error_message: str | None = None
    skip_reason: str | None = None  # condition_unmet | handler_failed | dependency_skipped
    tasks: list[InlineTask] = field(default_factory=list)

    @property
    def attempts(self) -> int:
        """Handler calls made for this step, over all its tasks."""
        return sum(t.attempts for t in self.tasks)


@dataclass
class InlineRun:
    """The result of :func:`run_inline`; shaped like :class:`pgflow.Run` where it matters."""

    run_id: UUID
    flow_slug: str
    input: Any
    status: RunStatus = RunStatus.STARTED
    output: Any = None
    step_states: tuple[InlineStep, ...] = ()

    def step(self, step_slug: str) -> InlineStep:
        for state in self.step_states:
            if state.step_slug == step_slug:
                return state
        raise KeyError(f"run has no step {step_slug!r} (steps: {', '.join(s.step_slug for s in self.step_states)})")


def run_inline(flow: Flow, input: Any = None, *, raise_on_failure: bool = True, signals: Signals = None) -> InlineRun:
    """Run ``flow`` in this process without a database; raises :class:`pgflow.RunFailed` when the
    run fails (unless ``raise_on_failure=False``). Usable from sync and async code alike.

    Waiting steps: a signal step takes ``signals[step_slug]`` (a dict given up front), or what
    ``signals(step_slug, step_input)`` returns (a callback; :data:`NO_SIGNAL` for none). Without a
    signal it times out at once: it completes with its ``default=``, or fails (``when_exhausted``
    applies); a signal step with neither a timeout nor a signal raises. Sleeps complete at once on
    a virtual clock (their output names the time they would wake), subflows run their child flow
    inline (with the same ``signals``)."""
    return _run_blocking(run_inline_async(flow, input, raise_on_failure=raise_on_failure, signals=signals))


async def run_inline_async(flow: Flow, input: Any = None, *, raise_on_failure: bool = True,
                           signals: Signals = None) -> InlineRun:
    """:func:`run_inline` for async tests."""
    run = await _Inline(flow, input, signals).run()
    if run.status == RunStatus.FAILED and raise_on_failure:
        raise RunFailed(run)
    return run


class _Inline:
    def __init__(self, flow: Flow, input: Any, signals: Signals = None) -> None:
        flow.require_steps()
        self.flow = flow
        self.signals = signals
        self.clock = datetime.now(timezone.utc)  # virtual time: sleeps move it on
        self.input = _from_jsonb(json_text(input))  # refused as start_flow refuses it
        self.states = {s.slug: InlineStep(s.slug) for s in flow.steps}
        self.result = InlineRun(uuid.uuid4(), flow.slug, self.input, step_states=tuple(self.states.values()))

    async def run(self) -> InlineRun:
        check_flow_input(self.flow, self.input)
        # as the engine: the conditions of the ready steps are settled before any of them runs
        while self._settle_conditions():
            ready = self._ready()
            if not ready:
                return self._complete()
            if not await self._run_step(ready[0]):
                break
        self.result.status = RunStatus.FAILED
        return self.result

    def _complete(self) -> InlineRun:
        self.result.status = RunStatus.COMPLETED
        leaves = {s.slug: self.states[s.slug] for s in self.flow.steps if not self.flow.dependents(s.slug)}
        outputs = {slug: st.output for slug, st in leaves.items() if st.status == StepStatus.COMPLETED}
        self.result.output = _jsonb_object(outputs.items()) or None
        return self.result

    def _deps_input(self, step: StepDefinition) -> dict[str, Any]:
        return _jsonb_object((d, self.states[d].output) for d in step.depends_on
                             if self.states[d].status == StepStatus.COMPLETED)

    def _ready(self) -> list[StepDefinition]:
        """Steps not started whose dependencies all completed or were skipped, in step order."""
        done = (StepStatus.COMPLETED, StepStatus.SKIPPED)
        return [s for s in self.flow.steps if self.states[s.slug].status == StepStatus.CREATED
                and all(self.states[d].status in done for d in s.depends_on)]

    def _unmet(self, step: StepDefinition) -> bool:
        if step.required_input_pattern is None and step.forbidden_input_pattern is None:
            return False
        seen = self.input if step.is_root else self._deps_input(step)
        return not ((step.required_input_pattern is None or contains(seen, step.required_input_pattern))
                    and (step.forbidden_input_pattern is None or not contains(seen, step.forbidden_input_pattern)))

    def _settle_conditions(self) -> bool:
        """Resolve the conditions of the ready steps, repeating while skips make more steps ready,
        as ``cascade_resolve_conditions`` does; False when an unmet condition failed the run."""
        while True:
            unmet = [s for s in self._ready() if self._unmet(s)]
            failing = next((s for s in unmet if s.when_unmet == "fail"), None)
            if failing is not None:
                state = self.states[failing.slug]
                state.status, state.error_message = StepStatus.FAILED, "Condition not met"
                return False
            if not unmet:
                return True
            for step in [s for s in unmet if s.when_unmet == "skip"]:
                self._skip(step, "condition_unmet", cascade=False)
            for step in [s for s in unmet if s.when_unmet == "skip-cascade"]:
                self._skip(step, "condition_unmet", cascade=True)

    async def _run_step(self, step: StepDefinition) -> bool:
        """Run the tasks of one ready step; False when the run failed."""
        state = self.states[step.slug]
        items = self._task_inputs(step)
        state.tasks = [InlineTask(i) for i in range(len(items))]
        for task, item in zip(state.tasks, items):
            if not await self._run_task(step, task, item):
                state.error_message = task.error_message
                # the step's tasks that have not run end as the engine ends unfinished tasks:
                # cancelled with the run, skipped with the step
                fails_run = step.when_exhausted == "fail"
                for other in state.tasks:
                    if other.status == TaskStatus.QUEUED:
                        other.status = TaskStatus.CANCELLED if fails_run else TaskStatus.SKIPPED
                if fails_run:
                    state.status = StepStatus.FAILED
                    return False
                self._skip(step, "handler_failed", cascade=step.when_exhausted == "skip-cascade")
                return True
        if self._type_violation(step, state.tasks):
            return False
        state.status = StepStatus.COMPLETED
        state.output = [t.output for t in state.tasks] if step.is_map else state.tasks[0].output
        return True

    def _task_inputs(self, step: StepDefinition) -> list[Any]:
        if not step.is_map:
            return [self.input if step.is_root else self._deps_input(step)]
        if step.is_root:
            return list(self.input)
        parent = self.states[step.depends_on[0]]
        return list(parent.output) if parent.status == StepStatus.COMPLETED else []

    def _type_violation(self, step: StepDefinition, tasks: list[InlineTask]) -> bool:
        """A single step that feeds a map step produced no array: its task and the step fail at once
        (no retry, whatever ``when_exhausted`` says), the task keeping its output. True then."""
        output = tasks[0].output if tasks else None
        feeds_map = any(s.is_map and s.depends_on == (step.slug,) for s in self.flow.steps)
        if step.is_map or not feeds_map or isinstance(output, list):
            return False
        message = f"[TYPE_VIOLATION] Produced {json_type(output)} instead of array"
        tasks[0].status, tasks[0].error_message = TaskStatus.FAILED, message
        state = self.states[step.slug]
        state.status, state.error_message = StepStatus.FAILED, message
        return True

    async def _run_task(self, step: StepDefinition, task: InlineTask, item: Any) -> bool:
        if step.wait is not None:
            task.attempts = 1
            try:
                task.output = _from_jsonb(json_text(await self._wait(step, item)))
                task.status = TaskStatus.COMPLETED
            except _WaitFailed as failed:
                task.status, task.error_message = TaskStatus.FAILED, str(failed)
            return task.status == TaskStatus.COMPLETED
        max_attempts = step.effective_max_attempts(self.flow)
        while task.attempts < max_attempts:
            task.attempts += 1
            claimed = ClaimedTask(self.flow.slug, self.result.run_id, step.slug, item, 0, task.task_index,
                                  item if step.is_root and not step.is_map else None, task.attempts)
            ctx = Context(run_id=self.result.run_id, flow_slug=self.flow.slug, step_slug=step.slug,
                          task_index=task.task_index, attempt=task.attempts, _load_flow_input=self._flow_input,
                          _loop=asyncio.get_running_loop(), **self._known_flow_input(step))
            outcome = await execute(step, claimed, ctx, step.effective_timeout(self.flow), None)
            if outcome.completed:
                # the error of a failed earlier attempt stays, as complete_task leaves it
                task.status, task.output = TaskStatus.COMPLETED, _from_jsonb(outcome.output_json or "null")
                return True
            task.status, task.error_message = TaskStatus.FAILED, outcome.error
        return False

    async def _wait(self, step: StepDefinition, item: Any) -> Any:
        """The output of a waiting step's task, as the database would end its wait."""
        wait = step.wait
        assert wait is not None
        if wait.kind == "subflow":
            child_input = _at(item, wait.input) if wait.input is not None else item
            child = await _Inline(wait.child, child_input, self.signals).run()
            if child.status != RunStatus.COMPLETED:
                failed = next((s for s in child.step_states if s.status == StepStatus.FAILED), None)
                raise _WaitFailed(f"child run of flow {wait.child.slug!r} failed: "
                                  f"{failed.step_slug if failed else ''}: {failed.error_message if failed else ''}")
            return child.output
        if wait.kind == "sleep":
            at = _at(item, wait.at) if wait.at is not None else self.clock
            try:
                when = datetime.fromtimestamp(at, timezone.utc) if isinstance(at, (int, float)) else (
                    at if isinstance(at, datetime) else datetime.fromisoformat(str(at).replace("Z", "+00:00")))
            except (TypeError, ValueError, OverflowError):
                raise _WaitFailed(f"sleep step {step.slug!r}: its input has no time at "
                                  f"{'.'.join(wait.at or ())} (got {json.dumps(at)})") from None
            when += timedelta(seconds=wait.seconds)
            self.clock = max(self.clock, when)
            return {"slept_until": when.isoformat()}
        payload = self.signals(step.slug, item) if callable(self.signals) else (self.signals or {}).get(
            step.slug, NO_SIGNAL)
        if payload is not NO_SIGNAL:
            return payload
        if wait.has_default:
            return wait.default
        if wait.timeout is None:
            raise PgFlowError(f"run_inline: signal step {step.slug!r} got no signal and has no timeout, so the run "
                              f"would wait forever; pass signals={{{step.slug!r}: <payload>}}")
        self.clock += timedelta(seconds=wait.timeout)
        raise _WaitFailed(f"Timed out: no signal for step {step.slug!r} within {timedelta(seconds=wait.timeout)}")

    def _known_flow_input(self, step: StepDefinition) -> dict[str, Any]:
        """The flow input a handler's context holds from the start, as on a worker: a root single
        step's task carries it, and a sync handler (in a worker thread there) may load it through
        ``ctx.flow_input``. An async handler elsewhere must ``await ctx.get_flow_input()``."""
        known = (step.is_root and not step.is_map) or not step.is_async
        return {"_flow_input": self.input} if known else {}

    async def _flow_input(self, run_id: UUID) -> Any:
        return self.input

    def _skip(self, step: StepDefinition, reason: str, cascade: bool) -> None:
        state = self.states[step.slug]
        state.status, state.skip_reason = StepStatus.SKIPPED, reason
        if not cascade:
            return
        for slug in _descendants(self.flow, step.slug):
            if self.states[slug].status == StepStatus.CREATED:
                self.states[slug].status, self.states[slug].skip_reason = StepStatus.SKIPPED, "dependency_skipped"


class _WaitFailed(Exception):
    """A waiting step's task fails (no retry): a signal timed out, a sleep without a time, a child
    run that failed."""


def _at(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _descendants(flow: Flow, slug: str) -> list[str]:
    found: list[str] = []
    todo = [slug]
    while todo:
        for child in flow.dependents(todo.pop()):
            if child not in found:
                found.append(child)
                todo.append(child)
    return found


def contains(value: Any, pattern: Any) -> bool:
    """PostgreSQL's jsonb ``value @> pattern`` for JSON-decoded Python values."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and contains(value[k], v) for k, v in pattern.items())
    if isinstance(pattern, list):
        return isinstance(value, list) and all(any(contains(v, p) for v in value) for p in pattern)
    if isinstance(value, (dict, list)):
        return False
    return json_type(value) == json_type(pattern) and value == pattern


def _jsonb_object(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """An object with its keys in jsonb's order (shortest first, then by their UTF-8 bytes), the
    order in which the worker's handlers receive them from the database."""
    return dict(sorted(pairs, key=lambda pair: (len(pair[0].encode()), pair[0].encode())))


def _jsonb_number(text: str) -> float | int:
    """A JSON number with a fraction or an exponent, as it comes back from jsonb: ``numeric``
    keeps the decimals written, so ``2.0`` stays a float, but ``1e+20`` has none and comes back
    as the integer 100000000000000000000."""
    mantissa, _, exponent = text.lower().partition("e")
    decimals = len(mantissa.partition(".")[2]) - int(exponent or 0)
    return int(Decimal(text)) if decimals <= 0 else float(text)


def _from_jsonb(text: str) -> Any:
    """JSON text decoded as the same value read back from a jsonb column."""
    return json.loads(text, object_pairs_hook=_jsonb_object, parse_float=_jsonb_number)


def _run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion, also when called from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        loop_running = False  # run outside the except block: errors raised inside must not chain to it
    else:
        loop_running = True
    if not loop_running:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="pgflow-testing")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


# --------------------------------------------------------------------------- drain


@dataclass(frozen=True)
class DrainResult:
    """What :func:`drain` did."""

    completed: int
    failed: int
    seconds: float


def drain(client: Any, flows: Iterable[Flow], *, timeout: float = 60.0, max_concurrency: int = 10) -> DrainResult:
    """Run a worker for ``flows`` until their queues are empty (retries and delays included).

    ``client`` is a :class:`pgflow.Client`, an :class:`pgflow.AsyncClient` or a database URL.
    Raises :class:`pgflow.PgFlowError` when work is left after ``timeout`` seconds.
    """
    return _run_blocking(drain_async(client, flows, timeout=timeout, max_concurrency=max_concurrency))


async def drain_async(client: Any, flows: Iterable[Flow], *, timeout: float = 60.0,
                      max_concurrency: int = 10) -> DrainResult:
    """:func:`drain` for async tests."""
    from pgflow.worker import Worker

    flows = list(flows)
    worker = Worker(client, flows, signal="polling", min_poll_interval=0.02, max_poll_interval=0.2,
                    max_concurrency=max_concurrency, shutdown_timeout=5.0, name="pgflow-testing-drain",
                    scheduler=False)
    started = time.monotonic()
    await worker.start()
    db = worker.db
    assert db is not None, "Worker.start() opens the worker's database"
    rows: list[dict[str, Any]] = []
    try:
        while True:
            if worker.in_flight == 0 and worker.reporter.backlog == 0:
                rows = await db.fetch("worker_queue_lengths", {"queue_names": worker.poller.queue_names})
                if worker.in_flight == 0 and worker.reporter.backlog == 0 and not any(r["queue_length"] for r in rows):
                    break
            if time.monotonic() - started > timeout:
                left = {r["queue_name"]: r["queue_length"] for r in rows}
                raise PgFlowError(
                    f"drain: work was still left after {timeout:g} s (messages per queue: {left}); "
                    f"a task may be stuck, retrying with a long delay, or started by a worker that died"
                )
            await asyncio.sleep(0.02)
    finally:
        await worker.stop()
    return DrainResult(worker.completed, worker.failed, time.monotonic() - started)
