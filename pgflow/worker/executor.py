"""Running one handler: its input, its timeout, its output as JSON, its error as text.

Shared by the worker and :func:`pgflow.testing.run_inline`, so both call handlers the same way.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import reprlib
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import CoroutineType, TracebackType
from typing import Any, Literal
from uuid import UUID

from pgflow.context import Context
from pgflow.db.jsonb import NotStorable, jsonb_text
from pgflow.dsl.step import StepDefinition
from pgflow.errors import NonSerializableOutput
from pgflow.worker.threads import ThreadRunner

log = logging.getLogger("pgflow.worker")

MAX_ERROR_LENGTH = 4000
TRACEBACK_FRAMES = 5


OutcomeKind = Literal["completed", "error", "timeout", "output", "report"]
ErrorDetail = Literal["traceback", "line"]  # what a failed task's stored error holds (WorkerConfig.error_detail)


@dataclass(slots=True)
class ClaimedTask:
    """A task returned by ``start_tasks`` (plus the attempt number it now runs)."""

    flow_slug: str
    run_id: UUID
    step_slug: str
    input: Any
    msg_id: int
    task_index: int
    flow_input: Any
    attempt: int = 1
    queue_name: str | None = None  # the queue its message was read from (None: the flow's queue)
    trace_context: Any = None  # its run's W3C trace context, read only when a tracer wants task spans

    @property
    def key(self) -> tuple[UUID, str, int]:
        return (self.run_id, self.step_slug, self.task_index)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ClaimedTask:
        return cls(
            flow_slug=row["flow_slug"], run_id=row["run_id"], step_slug=row["step_slug"], input=row["input"],
            msg_id=row["msg_id"], task_index=row["task_index"], flow_input=row.get("flow_input"),
            attempt=row.get("attempt") or 1, queue_name=row.get("queue_name"),
        )


@dataclass(slots=True)
class Outcome:
    """What happened to a task: its output as JSON text, or the error for ``fail_task``."""

    task: ClaimedTask
    kind: OutcomeKind
    output_json: str | None = None
    error: str | None = None
    duration: float = 0.0

    @property
    def completed(self) -> bool:
        return self.kind == "completed"


def handler_input(step: StepDefinition, task: ClaimedTask) -> Any:
    """Root single step: the flow input; dependent single step: ``{dep: output}``; map: the item."""
    if step.is_root and not step.is_map:
        return task.flow_input
    return task.input


def encode_output(step_slug: str, output: Any) -> str:
    """The output as JSON text; anything jsonb cannot hold raises :class:`NonSerializableOutput`.

    Falsy values (``0``, ``False``, ``""``, ``[]``, ``{}``) are kept as they are.
    """
    try:
        return jsonb_text(output)
    except NotStorable as exc:
        raise NonSerializableOutput(
            f"step {step_slug!r} returned {type(output).__name__} {_preview(output)}, which {exc.reason}; {exc.fix}"
        ) from None


def describe_error(exc: BaseException, detail: ErrorDetail = "traceback") -> str:
    """``Type: message`` then a short traceback (the last frames), for ``fail_task``; with
    ``detail="line"`` only ``Type: message`` (the traceback then goes to the worker's log)."""
    if isinstance(exc, _Escaped):
        exc = exc.original
    try:
        message = str(exc)
    except Exception:  # noqa: BLE001 - an exception whose __str__ fails still fails its task
        message = "<str() of the exception failed>"
    head = f"{type(exc).__name__}: {message}".rstrip() if message else type(exc).__name__
    if isinstance(exc, _STOPPING):
        head = (f"{type(exc).__name__}: the handler raised {type(exc).__name__}({message!r}), which would stop "
                f"the whole worker; it fails only this task. Raise an Exception to fail a task; stop a worker "
                f"with SIGTERM or SIGINT")
    if detail == "line":
        text = head
        log.warning("task failed (its stored error is this exception's line only, error_detail='line')",
                    exc_info=(type(exc), exc, exc.__traceback__))
    else:
        frames = traceback.format_exception(type(exc), exc, _user_frames(exc.__traceback__), limit=-TRACEBACK_FRAMES)
        text = head + "\n" + "".join(frames).rstrip()
    # PostgreSQL text cannot hold NUL, nor JSON a lone surrogate: both written as escapes
    text = text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
    suffix = "\n... (truncated)"
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - len(suffix)] + suffix


_PACKAGE_DIR = str(Path(__file__).resolve().parents[1])  # pgflow/


def _user_frames(tb: TracebackType | None) -> TracebackType | None:
    """The traceback from the first frame outside pgflow on (the handler's): the worker's own
    frames that called the handler say nothing about the failure. All of it if none is outside."""
    first = tb
    while first is not None and first.tb_frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        first = first.tb_next
    return first if first is not None else tb


def timeout_message(step_slug: str, seconds: float) -> str:
    return (f"TaskTimeout: step {step_slug!r} timed out after {seconds:g} s; the handler was stopped. "
            f"Raise the step's timeout= if it needs longer")


OutcomeCallback = Callable[["HandlerCall", "Outcome | None"], None]


class HandlerCall:
    """One handler running on the event loop, ended by its result, its timeout or :meth:`cancel`.

    An async handler runs as one asyncio task; a sync one in a thread of ``threads`` (inline when
    ``threads`` is None). ``on_done(call, outcome)`` is called once, on the loop: with the outcome
    when the handler returns or raises, with a timeout outcome at ``timeout`` seconds (the handler
    is cancelled: an async one at its next await; a sync one is abandoned in its thread), and
    with None after :meth:`cancel`. Handler errors never escape.
    """

    __slots__ = ("step", "task", "on_done", "started", "_loop", "_future", "_timer", "_group", "_timeout", "_over",
                 "_detail", "ctx")

    def __init__(self, step: StepDefinition, task: ClaimedTask, timeout: float, on_done: OutcomeCallback,
                 error_detail: ErrorDetail = "traceback") -> None:
        self.step = step
        self._detail = error_detail
        self.task = task
        self.on_done = on_done
        self._loop = asyncio.get_running_loop()
        self.started = 0.0
        self._timeout = timeout
        self._future: asyncio.Future[Any] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._group: TimeoutGroup | None = None
        self._over = False
        self.ctx: Context | None = None  # the handler's context, if it takes one (set by start)

    def start(self, ctx: Context | None, threads: ThreadRunner | None, timer: bool = True) -> None:
        """Call the handler (a sync one without ``threads`` runs here and ends the call at once).

        ``timer=False``: the caller puts the call in a :class:`TimeoutGroup` right after.
        """
        step = self.step
        self.started = self._loop.time()
        self.ctx = ctx
        value = handler_input(step, self.task)
        try:
            if step.is_async or threads is None:
                result = step.call_handler(value, ctx)
            else:
                result = asyncio.wrap_future(threads.submit(step.call_handler, value, ctx))
        except BaseException as exc:  # noqa: BLE001 - a handler failing at once fails its task
            self._finish(_failure(exc, self.task, self._detail))
            return
        if timer:
            self._timer = self._loop.call_at(self.started + self._timeout, self._expire)
        self._follow(result)

    @property
    def elapsed(self) -> float:
        return self._loop.time() - self.started

    @property
    def over(self) -> bool:
        """True once ``on_done`` has been called."""
        return self._over

    def cancel(self) -> None:
        """Stop waiting for the handler (shutdown): cancel it and end with no outcome."""
        if not self._over:
            if self._future is not None:
                self._future.cancel()
            self._finish(None)

    def _follow(self, result: Any) -> None:
        if result is None:  # the usual result of a job: no encoder, no awaitable check
            self._finish(Outcome(self.task, "completed", output_json="null"))
        elif type(result) is CoroutineType or inspect.isawaitable(result):
            # a coroutine runs guarded: SystemExit/KeyboardInterrupt raised in an asyncio task
            # escape the event loop and would stop the worker (a thread's future holds them)
            future = self._future = asyncio.ensure_future(
                result if isinstance(result, asyncio.Future) else _guarded(result))
            future.add_done_callback(self._settled)
        else:
            self._finish(_completion(self.step.slug, result, self.task))

    def _settled(self, future: asyncio.Future[Any]) -> None:
        if self._over:
            return
        try:
            result = future.result()
        except BaseException as exc:  # noqa: BLE001 - whatever the handler raised fails its task
            self._finish(_failure(exc, self.task, self._detail))
            return
        self._follow(result)  # a sync handler may return an awaitable: wait for it too

    @property
    def deadline(self) -> float:
        return self.started + self._timeout

    def _expire(self) -> None:
        self._timer = None
        if not self._over:
            if self._future is not None:
                self._future.cancel()
            self._finish(Outcome(self.task, "timeout", error=timeout_message(self.step.slug, self._timeout)))

    def _finish(self, outcome: Outcome | None) -> None:
        self._over = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._group is not None:
            self._group.ended()
            self._group = None
        if outcome is not None:
            outcome.duration = self.elapsed
        self.on_done(self, outcome)


class TimeoutGroup:
    """One timer for handler calls started together with the same timeout (a claimed batch),
    instead of one each: it fires at the latest of their deadlines (microseconds apart) and is
    cancelled once every call of the group has ended."""

    __slots__ = ("_calls", "_left", "_handle")

    def __init__(self, calls: list[HandlerCall]) -> None:
        self._calls = calls
        self._left = len(calls)
        for call in calls:
            call._group = self
        when = max(call.deadline for call in calls)
        self._handle = asyncio.get_running_loop().call_at(when, self._fire)

    def ended(self) -> None:
        self._left -= 1
        if self._left == 0:
            self._handle.cancel()
            self._calls = []

    def _fire(self) -> None:
        calls, self._calls = self._calls, []
        for call in calls:
            call._expire()


def _completion(step_slug: str, result: Any, task: ClaimedTask) -> Outcome:
    try:
        return Outcome(task, "completed", output_json=encode_output(step_slug, result))
    except NonSerializableOutput as exc:
        return Outcome(task, "output", error=f"NonSerializableOutput: {exc}")
    except Exception as exc:  # noqa: BLE001 - the output's own code raised while encoded (a broken mapping...)
        return Outcome(task, "output", error=f"NonSerializableOutput: step {step_slug!r} returned "
                                            f"{type(result).__name__}, which raised while encoded as JSON: "
                                            f"{describe_error(exc)}")


def _failure(exc: BaseException, task: ClaimedTask, detail: ErrorDetail = "traceback") -> Outcome:
    return Outcome(task, "error", error=describe_error(exc, detail))


class _Escaped(Exception):
    """Carries an exception a handler raised out of its asyncio task (``original``): a process-ending one,
    or on Python 3.10 a CancelledError with a message."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(original)
        self.original = original


_STOPPING = (SystemExit, KeyboardInterrupt, GeneratorExit)  # described as "would stop the worker"


async def _guarded(awaitable: Any) -> Any:
    # only these two escape an asyncio task (GeneratorExit is kept by the task; caught here, one
    # thrown in to close this coroutine would be swallowed)
    try:
        return await awaitable
    except (SystemExit, KeyboardInterrupt) as exc:
        raise _Escaped(exc) from None
    except asyncio.CancelledError as exc:
        if exc.args and sys.version_info < (3, 11):  # the handler's own (the worker cancels without a
            raise _Escaped(exc) from None             # message): 3.10's task would drop its message
        raise


async def execute(
    step: StepDefinition,
    task: ClaimedTask,
    ctx: Context,
    timeout: float,
    threads: ThreadRunner | None,
) -> Outcome:
    """Run one task to an outcome; handler errors never escape (cancellation does)."""
    waiter: asyncio.Future[Outcome | None] = asyncio.get_running_loop().create_future()

    def done(call: HandlerCall, outcome: Outcome | None) -> None:
        if not waiter.done():
            waiter.set_result(outcome)

    call = HandlerCall(step, task, timeout, done)
    call.start(ctx, threads)
    try:
        outcome = await waiter
    except asyncio.CancelledError:
        call.cancel()
        raise
    assert outcome is not None  # only cancel() ends a call without one
    return outcome


_PREVIEW = reprlib.Repr()
_PREVIEW.maxlevel = 3
_PREVIEW.maxstring = _PREVIEW.maxother = 60


def _preview(value: Any) -> str:
    """A short repr: shallow (a 5,000-deep list has no plain repr) and never raising."""
    try:
        text = _PREVIEW.repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ (or one recursing too deep) must not hide the error
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= 80 else text[:77] + "..."
