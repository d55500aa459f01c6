"""Typed events published by the database on every state change.

The engine's SQL functions call ``pgflow._emit``, which sends a JSON payload with
``pg_notify`` on two channels: ``pgflow:run:<run_id>`` (one run) and ``pgflow:events``
(every run), each only while some session follows it (``pgflow.subscribe(channel)``; the
client, the event hub and the dashboard subscribe for you). NOTIFY delivers only on commit, so
an event always describes committed state.

Each event class declares its payload's fields once, as typed dataclass fields, and
:func:`parse_event` reads exactly those: a payload that lacks a field without a default, or
whose field has the wrong type, raises ``ValueError`` naming the event type and the field. Keys
the class does not declare (sent by a newer engine) are tolerated; ``.raw`` keeps the whole
payload. A payload that would exceed NOTIFY's size limit drops its ``input``/``output``/
``error_message`` and lists them in ``truncated``: those fields then read ``None`` (fetch them
with ``get_run_with_states``). The field tables of docs/reference/events.md are rendered from
these declarations (:func:`reference_tables`; ``python scripts/build_events_reference.py``).

A new event: build its payload in SQL with the family's builder (``pgflow._run_event``,
``_step_event``, ``_task_event``), declare its class here (``status`` narrowed to a ``Literal``
of the family's status enum in :mod:`pgflow.models`), add it to ``EVENT_CLASSES``, rebuild the
reference page, and add a sample payload to tests/unit/test_events.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import MISSING, Field, dataclass, field, fields
from datetime import datetime
from types import NoneType, UnionType
from typing import Any, ClassVar, Literal, TypeGuard, Union, get_args, get_origin, get_type_hints
from uuid import UUID

ALL_RUNS_CHANNEL = "pgflow:events"
#: every run's run and step events, no task events (a pgflow-py extension)
ALL_RUNS_STEPS_CHANNEL = "pgflow:events:steps"


def run_channel(run_id: UUID | str, *, tasks: bool = True) -> str:
    """The NOTIFY channel of one run; with ``tasks=False`` the one that carries its run and step
    events only (a pgflow-py extension)."""
    return f"pgflow:run:{run_id}" if tasks else f"pgflow:run:{run_id}:steps"


_FRACTION = re.compile(r"\.(\d{1,6})(?=[+-]|Z|$)")


def _ts(value: Any) -> Any:
    """Parse PostgreSQL's JSON timestamps (which trim trailing zeros) on Python 3.10 too."""
    if value is None or isinstance(value, datetime):
        return value
    text = str(value)
    try:
        return datetime.fromisoformat(text)  # Python 3.11+ reads them as they are
    except ValueError:  # 3.10 wants 3 or 6 digits of fraction and no "Z": pad them
        return datetime.fromisoformat(_FRACTION.sub(lambda m: "." + m[1].ljust(6, "0"), text.replace("Z", "+00:00")))


def _field(doc: str = "", default: Any = MISSING) -> Any:
    """A payload field with its note for the reference page; without ``default`` it is required."""
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every event: the fields every payload has. ``raw`` is the payload as received."""

    event_type: ClassVar[str] = ""
    run_id: UUID = _field("the run (UUID as text)")
    flow_slug: str = _field("the run's flow")
    ts: datetime = _field("when the change was made (the database clock, `clock_timestamp()`)")
    truncated: tuple[str, ...] = _field(
        "only when present: the large fields (`input`, `output`, `error_message`) that were left out because "
        "the payload would exceed NOTIFY's 8000-byte limit; read them with `get_run_with_states` (a `LiveRun` "
        "does this by itself)", default=())
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Event:
        """The event of this class that ``payload`` describes; ``ValueError`` names what is wrong."""
        truncated = payload.get("truncated") or ()
        values: dict[str, Any] = {}
        for name, required, read in _readers(cls):
            if name in payload:
                try:
                    values[name] = read(payload[name])
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"pgflow event {cls.event_type!r}: field {name!r}: {exc}") from None
            elif name in truncated:
                values[name] = None
            elif required:
                raise ValueError(f"pgflow event {cls.event_type!r}: the payload has no {name!r} field")
        return cls(raw=payload, **values)


# --------------------------------------------------------------------------------- run events

@dataclass(frozen=True, kw_only=True)
class RunEvent(Event):
    """An event of a run as a whole; ``status`` is the run's status after it."""

    status: str = _field()

    @property
    def at(self) -> datetime | None:
        """The event's own timestamp (``started_at``, ``completed_at`` or ``failed_at``)."""
        return _own_timestamp(self)


@dataclass(frozen=True, kw_only=True)
class RunStartedEvent(RunEvent):
    event_type: ClassVar[str] = "run:started"
    status: Literal["started"] = _field()
    input: Any = _field()
    remaining_steps: int = _field()
    started_at: datetime = _field()


@dataclass(frozen=True, kw_only=True)
class RunCompletedEvent(RunEvent):
    event_type: ClassVar[str] = "run:completed"
    status: Literal["completed"] = _field()
    output: Any = _field("(the leaf steps' outputs by slug)")
    completed_at: datetime = _field()


@dataclass(frozen=True, kw_only=True)
class RunFailedEvent(RunEvent):
    event_type: ClassVar[str] = "run:failed"
    status: Literal["failed"] = _field()
    error_message: str | None = _field()
    failed_at: datetime = _field()
    failed_step_slug: str | None = _field("(the step whose failure failed the run)")


@dataclass(frozen=True, kw_only=True)
class RunCancelledEvent(RunEvent):
    """``cancel_run`` ended the run. The run's ``run:failed`` follows it (a cancelled run's status
    is ``failed``, which is what a TypeScript worker sees) and stays its last event."""

    event_type: ClassVar[str] = "run:cancelled"
    status: Literal["failed"] = _field()
    reason: str | None = _field("(the reason given to `cancel_run`, or null)")
    cancelled_at: datetime = _field()


# -------------------------------------------------------------------------------- step events

@dataclass(frozen=True, kw_only=True)
class StepEvent(Event):
    """An event of one step of a run; ``status`` is the step's status after it."""

    step_slug: str = _field()
    status: str = _field()

    @property
    def at(self) -> datetime | None:
        """The event's own timestamp (``started_at``, ``completed_at``, ``failed_at`` or ``skipped_at``)."""
        return _own_timestamp(self)


@dataclass(frozen=True, kw_only=True)
class StepStartedEvent(StepEvent):
    event_type: ClassVar[str] = "step:started"
    status: Literal["started"] = _field()
    started_at: datetime = _field()
    remaining_tasks: int = _field()
    remaining_deps: int = _field("(0)")
    initial_tasks: int = _field("(the number of tasks; for a map, the array's length)")


@dataclass(frozen=True, kw_only=True)
class StepCompletedEvent(StepEvent):
    event_type: ClassVar[str] = "step:completed"
    status: Literal["completed"] = _field()
    output: Any = _field("(a map step: the list of its task outputs in order)")
    started_at: datetime = _field()
    completed_at: datetime = _field()
    remaining_tasks: int = _field("(0)")
    remaining_deps: int = _field("(0)")


@dataclass(frozen=True, kw_only=True)
class StepFailedEvent(StepEvent):
    event_type: ClassVar[str] = "step:failed"
    status: Literal["failed"] = _field()
    error_message: str | None = _field()
    failed_at: datetime = _field()


@dataclass(frozen=True, kw_only=True)
class StepSkippedEvent(StepEvent):
    event_type: ClassVar[str] = "step:skipped"
    status: Literal["skipped"] = _field()
    skip_reason: str = _field("(`condition_unmet`, `handler_failed`, `dependency_skipped`)")
    skipped_at: datetime = _field()
    error_message: str | None = _field(
        "only when the skip comes from an exhausted task (`when_exhausted=\"skip\"`)", default=None)


# -------------------------------------------------------------------------------- task events

@dataclass(frozen=True, kw_only=True)
class TaskEvent(Event):
    """An event of one task (one attempt of one map element, or of a single step); ``status`` is
    the task's status after it."""

    step_slug: str = _field()
    task_index: int = _field()
    status: str = _field()
    attempt: int = _field("(1 for the first try)")


@dataclass(frozen=True, kw_only=True)
class TaskStartedEvent(TaskEvent):
    event_type: ClassVar[str] = "task:started"
    status: Literal["started"] = _field()
    worker_id: UUID | None = _field()
    started_at: datetime = _field()


@dataclass(frozen=True, kw_only=True)
class TaskCompletedEvent(TaskEvent):
    event_type: ClassVar[str] = "task:completed"
    status: Literal["completed"] = _field()
    output: Any = _field()
    completed_at: datetime = _field()


@dataclass(frozen=True, kw_only=True)
class TaskFailedEvent(TaskEvent):
    event_type: ClassVar[str] = "task:failed"
    status: Literal["queued", "failed"] = _field('("queued" when it will be retried, else "failed")')
    error_message: str | None = _field()
    will_retry: bool = _field()
    retry_at: datetime | None = _field("(when the retry becomes visible, or null)")
    failed_at: datetime = _field()


EVENT_CLASSES: tuple[type[Event], ...] = (
    RunStartedEvent, RunCompletedEvent, RunFailedEvent, RunCancelledEvent,
    StepStartedEvent, StepCompletedEvent, StepFailedEvent, StepSkippedEvent,
    TaskStartedEvent, TaskCompletedEvent, TaskFailedEvent,
)
EVENT_TYPES: dict[str, type[Event]] = {cls.event_type: cls for cls in EVENT_CLASSES}


def ends_run(event: Event) -> TypeGuard[RunCompletedEvent | RunFailedEvent]:
    """Whether ``event`` is a run's last: ``run:completed`` or ``run:failed`` (a cancelled run's
    ``run:cancelled`` comes just before its ``run:failed``, which carries the error)."""
    return isinstance(event, (RunCompletedEvent, RunFailedEvent))


def parse_event(payload: str | dict[str, Any]) -> Event:
    """Turn a NOTIFY payload into a typed event.

    Raises ``ValueError`` for an event type this version does not know, and for a payload that
    does not match its class's declaration (the message names the event type and the field).
    """
    data = json.loads(payload) if isinstance(payload, str) else payload
    if not isinstance(data, dict):
        raise ValueError(f"a pgflow event payload is a JSON object, not {type(data).__name__}")
    kind = data.get("event_type")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown pgflow event type {kind!r}")
    return cls.from_payload(data)


# ------------------------------------------------------------------ reading a declared field

def _own_timestamp(event: Event) -> datetime | None:
    for name in ("cancelled_at", "skipped_at", "failed_at", "completed_at", "started_at"):
        value: datetime | None = getattr(event, name, None)
        if value is not None:
            return value
    return None


def _payload_fields(cls: type[Event]) -> list[Field[Any]]:
    """The fields a payload of ``cls`` carries, in declaration order (all but ``raw``)."""
    return [f for f in fields(cls) if f.name != "raw"]


_Readers = tuple[tuple[str, bool, Callable[[Any], Any]], ...]
_READERS: dict[type[Event], _Readers] = {}


def _readers(cls: type[Event]) -> _Readers:
    """(name, required, reader) for each payload field of ``cls``, derived from its declaration."""
    if cls not in _READERS:
        hints = get_type_hints(cls)
        _READERS[cls] = tuple((f.name, f.default is MISSING and f.default_factory is MISSING,
                               _reader(hints[f.name])) for f in _payload_fields(cls))
    return _READERS[cls]


def _reader(hint: Any) -> Callable[[Any], Any]:
    """A function that checks (and converts) a JSON value to the declared type ``hint``."""
    if hint is Any:
        return lambda value: value
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, UnionType):
        options = [_reader(a) for a in args if a is not NoneType]
        nullable = NoneType in args
        return lambda value: None if value is None and nullable else _first_fit(options, value, hint)
    if origin is Literal:
        return lambda value: _expect(value in args and isinstance(value, str), value, " or ".join(map(repr, args)))
    if origin is tuple:
        return lambda value: tuple(_expect(isinstance(v, str), v, "text") for v in _expect(
            isinstance(value, list), value, "a list"))
    simple = _SIMPLE.get(hint)
    if simple is None:
        raise TypeError(f"pgflow.events cannot read a field of type {hint!r}")
    return simple


def _expect(ok: bool, value: Any, what: str) -> Any:
    if not ok:
        raise ValueError(f"expected {what}, got {value!r:.80}")
    return value


def _first_fit(options: list[Callable[[Any], Any]], value: Any, hint: Any) -> Any:
    if value is None:
        raise ValueError("expected a value, got null")
    for read in options:
        try:
            return read(value)
        except ValueError:
            continue
    raise ValueError(f"expected {hint}, got {value!r:.80}")


_UUIDS: dict[str, UUID] = {}


def _uuid(text: str) -> UUID:
    """``UUID(text)``, remembered: the events of a run repeat its id and its few workers' ids."""
    found = _UUIDS.get(text)
    if found is None:
        if len(_UUIDS) >= 4096:
            _UUIDS.clear()
        found = _UUIDS[text] = UUID(text)
    return found


_SIMPLE: dict[Any, Callable[[Any], Any]] = {
    str: lambda v: _expect(isinstance(v, str), v, "text"),
    int: lambda v: _expect(isinstance(v, int) and not isinstance(v, bool), v, "an integer"),
    bool: lambda v: _expect(isinstance(v, bool), v, "true or false"),
    UUID: lambda v: _uuid(_expect(isinstance(v, str), v, "a UUID as text")),
    datetime: lambda v: _ts(_expect(isinstance(v, str), v, "an ISO 8601 timestamp")),
}


# ------------------------------------------------------------------------- reference tables

FAMILIES: dict[str, type[Event]] = {"run": RunEvent, "step": StepEvent, "task": TaskEvent}


def _describe(cls: type[Event], f: Field[Any]) -> str:
    note = f.metadata.get("doc", "")
    if not note and get_origin(get_type_hints(cls)[f.name]) is Literal:
        note = " or ".join(f'"{v}"' for v in get_args(get_type_hints(cls)[f.name]))
    return f"`{f.name}` {note}".rstrip()


def reference_tables() -> dict[str, str]:
    """The field tables of docs/reference/events.md, by name ("common", "run", "step", "task")."""
    common = {f.name for f in _payload_fields(Event)}
    tables = {"common": "\n".join(
        ["| field | |", "|---|---|", "| `event_type` | `run:started`, `step:completed`, ... (below) |"]
        + [f"| `{f.name}` | {f.metadata['doc']} |" for f in _payload_fields(Event)])}
    for family, base in FAMILIES.items():
        rows = ["| event | Python class | fields |", "|---|---|---|"]
        for cls in EVENT_CLASSES:
            if issubclass(cls, base):
                described = ", ".join(_describe(cls, f) for f in _payload_fields(cls) if f.name not in common)
                rows.append(f"| `{cls.event_type}` | `{cls.__name__}` | {described} |")
        tables[family] = "\n".join(rows)
    return tables
