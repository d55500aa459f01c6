"""Running one handler: its input, its timeout, its output as JSON, its error as text.

Shared by the worker and :func:`pgflow.testing.run_inline`, so both call handlers the same way.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import traceback
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

from pgflow.context import Context
from pgflow.dsl.step import StepDefinition
from pgflow.errors import NonSerializableOutput
from pgflow.worker.threads import ThreadRunner

MAX_ERROR_LENGTH = 4000
TRACEBACK_FRAMES = 5

_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")  # \u0000 not preceded by an escaped backslash

OutcomeKind = Literal["completed", "error", "timeout", "output"]


@dataclass
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

    @property
    def key(self) -> tuple[UUID, str, int]:
        return (self.run_id, self.step_slug, self.task_index)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ClaimedTask:
        return cls(
            flow_slug=row["flow_slug"], run_id=row["run_id"], step_slug=row["step_slug"], input=row["input"],
            msg_id=row["msg_id"], task_index=row["task_index"], flow_input=row.get("flow_input"),
            attempt=row.get("attempt") or 1,
        )


@dataclass
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
    """The output as JSON text; anything JSON cannot hold raises :class:`NonSerializableOutput`.

    Falsy values (``0``, ``False``, ``""``, ``[]``, ``{}``) are kept as they are.
    """
    try:
        text = json.dumps(output, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise NonSerializableOutput(
            f"step {step_slug!r} returned {type(output).__name__} {_preview(output)}, which is not "
            f"JSON-serialisable ({exc}); return dicts, lists, strings, numbers, booleans or None "
            f"(convert dates with .isoformat(), decimals with float() or str())"
        ) from None
    if "\\u0000" in text and _NUL_ESCAPE.search(text):
        raise NonSerializableOutput(
            f"step {step_slug!r} returned a string with a NUL character (\\x00), which PostgreSQL's jsonb "
            f"cannot store; remove it or encode the data (e.g. base64)"
        )
    return text


def describe_error(exc: BaseException) -> str:
    """``Type: message`` then a short traceback (the last frames), for ``fail_task``."""
    head = f"{type(exc).__name__}: {exc}".rstrip() if str(exc) else type(exc).__name__
    frames = traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-TRACEBACK_FRAMES)
    text = head + "\n" + "".join(frames).rstrip()
    text = text.replace("\x00", "\\x00")  # PostgreSQL text cannot hold NUL
    suffix = "\n... (truncated)"
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - len(suffix)] + suffix


def timeout_message(step_slug: str, seconds: float) -> str:
    return (f"TaskTimeout: step {step_slug!r} timed out after {seconds:g} s; the handler was stopped. "
            f"Raise the step's timeout= if it needs longer")


async def invoke(step: StepDefinition, value: Any, ctx: Context | None, threads: ThreadRunner | None) -> Any:
    """Call the handler: awaited when async, in a thread when sync (inline without ``threads``)."""
    if step.is_async:
        result = step.call_handler(value, ctx)
    elif threads is None:
        result = step.call_handler(value, ctx)
    else:
        result = await asyncio.wrap_future(threads.submit(step.call_handler, value, ctx))
    if inspect.isawaitable(result):
        result = await result
    return result


async def execute(
    step: StepDefinition,
    task: ClaimedTask,
    ctx: Context,
    timeout: float,
    threads: ThreadRunner | None,
) -> Outcome:
    """Run one task to an outcome; handler errors never escape (cancellation does)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    running = asyncio.ensure_future(invoke(step, handler_input(step, task), ctx, threads))
    try:
        done, _ = await asyncio.wait({running}, timeout=timeout)
    except asyncio.CancelledError:
        running.cancel()
        raise
    if not done:
        running.cancel()  # an async handler stops at its next await; a sync one is abandoned
        outcome = Outcome(task, "timeout", error=timeout_message(step.slug, timeout))
    else:
        try:
            outcome = Outcome(task, "completed", output_json=encode_output(step.slug, running.result()))
        except NonSerializableOutput as exc:
            outcome = Outcome(task, "output", error=f"NonSerializableOutput: {exc}")
        except BaseException as exc:  # noqa: BLE001 - whatever the finished handler raised fails its task
            outcome = Outcome(task, "error", error=describe_error(exc))
    outcome.duration = loop.time() - started
    return outcome


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
