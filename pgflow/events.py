"""Typed events published by the database on every state change.

The engine's SQL functions call ``pgflow._emit``, which sends a JSON payload with
``pg_notify`` on two channels: ``pgflow:run:<run_id>`` (one run) and ``pgflow:events``
(every run), each only while some session follows it (``pgflow.subscribe(channel)``; the
client, the event hub and the dashboard subscribe for you). NOTIFY delivers only on commit, so
an event always describes committed state.

Every payload has ``event_type``, ``run_id``, ``flow_slug`` and ``ts``; step and task events
add ``step_slug``; task events add ``task_index`` and ``attempt``. A payload that would exceed
NOTIFY's size limit drops its ``input``/``output``/``error_message`` and lists them in
``truncated``: fetch them with ``get_run_with_states``. See docs/reference/events.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

ALL_RUNS_CHANNEL = "pgflow:events"


def run_channel(run_id: UUID | str) -> str:
    """The NOTIFY channel of one run."""
    return f"pgflow:run:{run_id}"


_FRACTION = re.compile(r"\.(\d{1,6})(?=[+-]|Z|$)")


def _ts(value: Any) -> datetime | None:
    """Parse PostgreSQL's JSON timestamps (which trim trailing zeros) on Python 3.10 too."""
    if value is None or isinstance(value, datetime):
        return value
    text = _FRACTION.sub(lambda m: "." + m[1].ljust(6, "0"), str(value).replace("Z", "+00:00"))
    return datetime.fromisoformat(text)


@dataclass(frozen=True)
class Event:
    """Base of every event. ``raw`` is the payload as received."""

    event_type: ClassVar[str] = ""
    run_id: UUID
    flow_slug: str | None
    ts: datetime | None
    truncated: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def status(self) -> str | None:
        return self.raw.get("status")

    @classmethod
    def _fields(cls, p: dict[str, Any]) -> dict[str, Any]:
        return {}

    @classmethod
    def from_payload(cls, p: dict[str, Any]) -> Event:
        return cls(
            run_id=UUID(str(p["run_id"])),
            flow_slug=p.get("flow_slug"),
            ts=_ts(p.get("ts")),
            truncated=tuple(p.get("truncated") or ()),
            raw=p,
            **cls._fields(p),
        )


@dataclass(frozen=True)
class RunEvent(Event):
    input: Any = None
    output: Any = None
    error_message: str | None = None
    remaining_steps: int | None = None
    at: datetime | None = None

    @classmethod
    def _fields(cls, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "input": p.get("input"),
            "output": p.get("output"),
            "error_message": p.get("error_message"),
            "remaining_steps": p.get("remaining_steps"),
            "at": _ts(p.get("started_at") or p.get("completed_at") or p.get("failed_at")),
        }


@dataclass(frozen=True)
class RunStarted(RunEvent):
    event_type: ClassVar[str] = "run:started"


@dataclass(frozen=True)
class RunCompleted(RunEvent):
    event_type: ClassVar[str] = "run:completed"


@dataclass(frozen=True)
class RunFailed(RunEvent):
    event_type: ClassVar[str] = "run:failed"

    @property
    def failed_step_slug(self) -> str | None:
        return self.raw.get("failed_step_slug")


@dataclass(frozen=True)
class StepEvent(Event):
    step_slug: str = ""
    output: Any = None
    error_message: str | None = None
    skip_reason: str | None = None
    remaining_tasks: int | None = None
    remaining_deps: int | None = None
    initial_tasks: int | None = None
    at: datetime | None = None

    @classmethod
    def _fields(cls, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "step_slug": p["step_slug"],
            "output": p.get("output"),
            "error_message": p.get("error_message"),
            "skip_reason": p.get("skip_reason"),
            "remaining_tasks": p.get("remaining_tasks"),
            "remaining_deps": p.get("remaining_deps"),
            "initial_tasks": p.get("initial_tasks"),
            "at": _ts(p.get("skipped_at") or p.get("failed_at") or p.get("completed_at") or p.get("started_at")),
        }


@dataclass(frozen=True)
class StepStarted(StepEvent):
    event_type: ClassVar[str] = "step:started"


@dataclass(frozen=True)
class StepCompleted(StepEvent):
    event_type: ClassVar[str] = "step:completed"


@dataclass(frozen=True)
class StepFailed(StepEvent):
    event_type: ClassVar[str] = "step:failed"


@dataclass(frozen=True)
class StepSkipped(StepEvent):
    event_type: ClassVar[str] = "step:skipped"


@dataclass(frozen=True)
class TaskEvent(Event):
    step_slug: str = ""
    task_index: int = 0
    attempt: int | None = None
    worker_id: UUID | None = None
    output: Any = None
    error_message: str | None = None
    will_retry: bool = False
    retry_at: datetime | None = None

    @classmethod
    def _fields(cls, p: dict[str, Any]) -> dict[str, Any]:
        worker = p.get("worker_id")
        return {
            "step_slug": p["step_slug"],
            "task_index": int(p.get("task_index") or 0),
            "attempt": p.get("attempt"),
            "worker_id": UUID(str(worker)) if worker else None,
            "output": p.get("output"),
            "error_message": p.get("error_message"),
            "will_retry": bool(p.get("will_retry", False)),
            "retry_at": _ts(p.get("retry_at")),
        }


@dataclass(frozen=True)
class TaskStarted(TaskEvent):
    event_type: ClassVar[str] = "task:started"


@dataclass(frozen=True)
class TaskCompleted(TaskEvent):
    event_type: ClassVar[str] = "task:completed"


@dataclass(frozen=True)
class TaskFailed(TaskEvent):
    event_type: ClassVar[str] = "task:failed"


EVENT_TYPES: dict[str, type[Event]] = {
    cls.event_type: cls
    for cls in (
        RunStarted, RunCompleted, RunFailed,
        StepStarted, StepCompleted, StepFailed, StepSkipped,
        TaskStarted, TaskCompleted, TaskFailed,
    )
}


def parse_event(payload: str | dict[str, Any]) -> Event:
    """Turn a NOTIFY payload into a typed event; unknown event types raise ``ValueError``."""
    data = json.loads(payload) if isinstance(payload, str) else payload
    kind = data.get("event_type")
    cls = EVENT_TYPES.get(kind)  # type: ignore[arg-type]
    if cls is None:
        raise ValueError(f"unknown pgflow event type {kind!r}")
    return cls.from_payload(data)
