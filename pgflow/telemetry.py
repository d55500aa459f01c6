"""Telemetry: every worker activity passes through one choke point and becomes an event.

An event has a dotted name, *measurements* (numbers: durations in seconds, counts) and
*metadata* (what it is about: flow, step, run, worker). Attach a handler to receive them::

    from pgflow import telemetry

    def on_task(event, measurements, metadata):
        print(event, metadata["step_slug"], measurements["duration"])

    telemetry.attach("my-metrics", ["task.stop", "task.exception"], on_task)

Names may end with ``*`` to match a prefix (``"task.*"``) or be ``"*"`` for everything.
Spans (:func:`span`) emit ``<name>.start``, then ``<name>.stop`` or ``<name>.exception``
with the same ``span_id`` in the metadata, so a tracer can pair them
(see :func:`attach_opentelemetry`). A handler that raises is detached and logged once; it
never breaks the worker. Handlers run on the worker's event loop: keep them quick.

A logging handler (id ``"pgflow.logging"``) is attached on import; ``detach("pgflow.logging")``
silences it. The catalogue of events is in docs/reference/telemetry.md.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pgflow.textsafe import printable

Handler = Callable[[str, dict[str, Any], dict[str, Any]], None]

log = logging.getLogger("pgflow.telemetry")

# every event the worker emits, with what it carries (documented in docs/reference/telemetry.md)
EVENTS: dict[str, str] = {
    "worker.start": "a worker started (metadata: worker_name, worker_ids, flows, queues, signal, max_concurrency)",
    "worker.stop": "a worker stopped (measurements: duration, handed_back)",
    "worker.deprecated": "the database marked the worker deprecated; it stops taking work",
    "poll.start": "a read of the queues begins (metadata: queues, qty)",
    "poll.stop": "a read ended (measurements: duration, messages, tasks)",
    "poll.exception": "a read failed (metadata: error)",
    "task.start": "a handler starts (metadata: flow_slug, step_slug, run_id, task_index, attempt, msg_id, worker_id)",
    "task.stop": "a handler returned and its output was accepted (measurements: duration)",
    "task.exception": "a handler raised, timed out or returned a non-JSON output (metadata: kind, error)",
    "task.handed_back": "an unfinished task was returned to its queue at shutdown",
    "task.reported": "the task's outcome was stored (measurements: duration of the report, batch; metadata: outcome)",
    "task.cancelled": "the task's run was cancelled (cancel_run); what its handler did is ignored (metadata: ended)",
    "run.completed": "a run this worker took part in completed",
    "run.failed": "a run this worker took part in failed (metadata: error_message)",
    "db.query.start": "a database call of any caller (client, worker, scheduler, CLI, dashboard) begins (metadata: query)",
    "db.query.stop": "a database call ended (measurements: duration)",
    "db.query.exception": "a database call failed (metadata: error)",
    "db.unavailable": "the database cannot be reached; the worker retries (measurements: retry_in)",
    "db.available": "the database is reachable again (measurements: outage)",
    "sweeper.requeued": "stalled tasks were requeued (measurements: count)",
    "scheduler.fired": "a schedule started its run for a tick (metadata: schedule_slug, run_id, tick_at, catch_up_from, next_run_at)",
    "scheduler.skipped": "a due tick got no run: missed ticks skipped, or the run could not start (same metadata)",
    "scheduler.error": "a schedule that cannot be read was paused (metadata: schedule_slug, error)",
    "scheduler.sync": "the schedules declared in code were synced (measurements: orphaned; metadata: created, updated, orphaned)",
}


# the spans (name.start / name.stop / name.exception); their start events are not logged
SPANS = ("task", "poll", "db.query")
SPAN_STARTS = frozenset(f"{name}.start" for name in SPANS)


@dataclass
class _Attached:
    handler_id: str
    patterns: tuple[str, ...]
    function: Handler
    enabled: Callable[[str], bool] | None = None  # the handler's own "would I act on this event?"


_handlers: dict[str, _Attached] = {}
_by_event: dict[str, tuple[_Attached, ...]] = {}  # cache, cleared on attach/detach
_lock = threading.Lock()
_span_ids = itertools.count(1)


def attach(handler_id: str, events: str | Iterable[str], function: Handler) -> None:
    """Call ``function(event, measurements, metadata)`` for each matching event.

    ``events`` is a name, a prefix ending in ``*`` or ``"*"``, or a list of them. Attaching an
    id that is already attached replaces that handler. A handler object with an
    ``enabled(event) -> bool`` method may say that it would ignore an event (the logging handler
    does for levels its logger drops); the worker then skips preparing that event (see :func:`wants`).
    """
    patterns = (events,) if isinstance(events, str) else tuple(events)
    if not patterns:
        raise ValueError("attach() needs at least one event name or pattern, e.g. 'task.*'")
    enabled = getattr(function, "enabled", None)
    with _lock:
        _handlers[handler_id] = _Attached(handler_id, patterns, function, enabled if callable(enabled) else None)
        _by_event.clear()


def detach(handler_id: str) -> bool:
    """Remove a handler; returns False when no handler had that id."""
    with _lock:
        found = _handlers.pop(handler_id, None) is not None
        _by_event.clear()
    return found


def attached() -> list[str]:
    """Ids of the attached handlers."""
    return list(_handlers)


def _matches(pattern: str, event: str) -> bool:
    return pattern == "*" or pattern == event or (pattern.endswith("*") and event.startswith(pattern[:-1]))


def _handlers_for(event: str) -> tuple[_Attached, ...]:
    found = _by_event.get(event)
    if found is None:
        with _lock:
            found = tuple(h for h in _handlers.values() if any(_matches(p, event) for p in h.patterns))
            _by_event[event] = found
    return found


def execute(event: str, measurements: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None) -> None:
    """Emit one event to the handlers attached to it."""
    handlers = _handlers_for(event)
    if not handlers:
        return
    measurements = measurements or {}
    metadata = metadata or {}
    for attached_handler in handlers:
        try:
            attached_handler.function(event, measurements, metadata)
        except Exception:
            detach(attached_handler.handler_id)
            log.exception("telemetry handler %r failed on %s and was detached", attached_handler.handler_id, event)


@dataclass
class Span:
    """What a span's body can add to its stop event."""

    name: str
    metadata: dict[str, Any]
    measurements: dict[str, Any] = field(default_factory=dict)
    failed: bool = False
    started: float = 0.0

    def fail(self, kind: str, error: str | None) -> None:
        """End with ``<name>.exception`` instead of ``.stop``, without raising (e.g. a failed task)."""
        self.failed = True
        self.metadata["kind"] = kind
        self.metadata["error"] = error

    def end(self, exc: BaseException | None = None, duration: float | None = None) -> None:
        """Emit ``<name>.stop``, or ``<name>.exception`` when failed or ended by ``exc``."""
        self.measurements["duration"] = time.perf_counter() - self.started if duration is None else duration
        if exc is not None:
            self.metadata.setdefault("error", f"{type(exc).__name__}: {exc}")
            self.metadata.setdefault("kind", "cancelled" if not isinstance(exc, Exception) else "error")
        failed = self.failed or exc is not None
        execute(self.name + (".exception" if failed else ".stop"), self.measurements, self.metadata)


def next_span_id() -> int:
    """A new ``span_id`` (for a stop event whose start nobody wanted)."""
    return next(_span_ids)


def begin(name: str, metadata: dict[str, Any] | None = None) -> Span:
    """Start a span by hand (``name.start`` now); :meth:`Span.end` finishes it."""
    current = Span(name, dict(metadata or {}))
    current.metadata["span_id"] = next(_span_ids)
    execute(name + ".start", {"system_time": time.time()}, current.metadata)
    current.started = time.perf_counter()
    return current


class span:  # noqa: N801 - used as a function: ``with telemetry.span(...) as s``
    """Emit ``name.start``, then ``name.stop`` (or ``name.exception`` and re-raise).

    The stop and exception events carry ``duration`` (seconds) plus whatever the body put in
    ``span.measurements``; all three share ``metadata`` including a ``span_id``. When no handler
    wants any of the three events (:func:`wants`), nothing is emitted and the body gets a bare
    :class:`Span`.
    """

    __slots__ = ("_name", "_metadata", "_span", "_live")

    def __init__(self, name: str, metadata: dict[str, Any] | None = None) -> None:
        self._name = name
        self._metadata = metadata

    def __enter__(self) -> Span:
        self._live = wants_span(self._name)
        if self._live:
            self._span = begin(self._name, self._metadata)
        else:
            self._span = Span(self._name, {})
        return self._span

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if self._live:
            self._span.end(exc)


def has_handlers(event: str) -> bool:
    """True when some handler would receive ``event`` (to skip building costly metadata)."""
    return bool(_handlers_for(event))


def wants(event: str) -> bool:
    """True when some attached handler would act on ``event``: it receives it and does not say
    otherwise through its ``enabled(event)`` (the worker skips preparing unwanted events)."""
    for h in _handlers_for(event):
        if h.enabled is None:
            return True
        try:
            if h.enabled(event):
                return True
        except Exception:
            return True  # when in doubt, emit: execute() deals with failing handlers
    return False


_span_events: dict[str, tuple[str, str, str]] = {}


def wants_span(name: str) -> bool:
    """True when some handler wants ``name.start``, ``name.stop`` or ``name.exception``."""
    events = _span_events.get(name)
    if events is None:
        events = _span_events[name] = (name + ".start", name + ".stop", name + ".exception")
    return wants(events[0]) or wants(events[1]) or wants(events[2])


# --------------------------------------------------------------------------- logging handler

_LEVELS = {
    "task.exception": logging.WARNING,
    "run.failed": logging.WARNING,
    "db.unavailable": logging.WARNING,
    "worker.deprecated": logging.WARNING,
    "poll.exception": logging.WARNING,
    "task.handed_back": logging.WARNING,
    "worker.start": logging.INFO,
    "worker.stop": logging.INFO,
    "db.available": logging.INFO,
    "sweeper.requeued": logging.INFO,
    "task.cancelled": logging.INFO,
    "task.stop": logging.INFO,
    "run.completed": logging.INFO,
}


def _task_label(md: dict[str, Any]) -> str:
    return f"{md.get('flow_slug')}/{md.get('step_slug')}[{md.get('task_index')}] run={md.get('run_id')}"


def _describe(event: str, ms: dict[str, Any], md: dict[str, Any]) -> str:
    if event == "task.stop":
        return f"task completed: {_task_label(md)} attempt={md.get('attempt')} in {ms.get('duration', 0):.3f}s"
    if event == "task.exception":
        first_line = str(md.get("error") or "").split("\n", 1)[0]
        return f"task failed ({md.get('kind')}): {_task_label(md)} attempt={md.get('attempt')}: {first_line}"
    if event == "task.handed_back":
        return f"task handed back to its queue at shutdown: {_task_label(md)}"
    if event == "task.cancelled":
        return f"task of a cancelled run, {md.get('ended')}; result ignored: {_task_label(md)}"
    if event == "run.completed":
        return f"run completed: {md.get('flow_slug')} run={md.get('run_id')}"
    if event == "run.failed":
        first_line = str(md.get("error_message") or "").split("\n", 1)[0]
        return f"run failed: {md.get('flow_slug')} run={md.get('run_id')}: {first_line}"
    if event == "db.unavailable":
        return f"database unreachable ({md.get('error')}); retrying in {ms.get('retry_in', 0):.1f}s"
    if event == "db.available":
        return f"database reachable again after {ms.get('outage', 0):.1f}s"
    if event == "worker.start":
        return (f"worker {md.get('worker_name')} started: flows {', '.join(md.get('flows', ()))}, "
                f"concurrency {md.get('max_concurrency')}, signal {md.get('signal')}")
    if event == "worker.stop":
        return f"worker {md.get('worker_name')} stopped ({md.get('reason')}), handed back {ms.get('handed_back', 0)} task(s)"
    if event == "worker.deprecated":
        return f"worker {md.get('worker_name')} was deprecated in the database; draining and stopping"
    if event == "sweeper.requeued":
        return f"requeued {ms.get('count')} stalled task(s)"
    if event == "poll.exception":
        return f"reading the queues failed: {md.get('error')}"
    pairs = " ".join(f"{k}={v}" for k, v in {**md, **ms}.items())
    return f"{event} {pairs}"


class _LogHandler:
    """The default handler: one log record per event on logger ``pgflow.<area>``."""

    def __init__(self) -> None:
        self._targets: dict[str, tuple[logging.Logger, int]] = {}

    def _target(self, event: str) -> tuple[logging.Logger, int]:
        found = self._targets.get(event)
        if found is None:
            found = (logging.getLogger("pgflow." + event.split(".", 1)[0]), _LEVELS.get(event, logging.DEBUG))
            self._targets[event] = found
        return found

    def enabled(self, event: str) -> bool:
        """False when the event's logger drops its level (nothing would be logged)."""
        logger, level = self._target(event)
        return logger.isEnabledFor(level)

    def __call__(self, event: str, measurements: dict[str, Any], metadata: dict[str, Any]) -> None:
        logger, level = self._target(event)
        if logger.isEnabledFor(level):
            # one line, control characters escaped: errors and slugs come from handlers and callers
            logger.log(level, printable(_describe(event, measurements, metadata)),
                       extra={"pgflow_event": event, "pgflow_metadata": metadata})


log_event = _LogHandler()


def attach_default_logger() -> None:
    """(Re)attach the logging handler under the id ``"pgflow.logging"``."""
    attach("pgflow.logging", [e for e in EVENTS if e not in SPAN_STARTS], log_event)


attach_default_logger()


# --------------------------------------------------------------------------- OpenTelemetry

_activate: Callable[[int], Any] | None = None  # the tracer's "make this span current", if any


class _Nothing:
    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NOTHING = _Nothing()


def activate(span: Span | None) -> Any:
    """A context manager making ``span`` current for an attached tracer while the body runs (the
    worker starts each handler inside it, so the handler's own spans are children of its task's);
    a shared no-op when no tracer is attached or ``span`` is None."""
    if _activate is None or span is None:
        return _NOTHING
    return _activate(span.metadata["span_id"])


def attach_opentelemetry(tracer: Any = None, spans: Iterable[str] = SPANS) -> None:
    """Turn spans into OpenTelemetry spans (needs ``pip install 'pgflow-py[otel]'``).

    ``tracer`` defaults to ``opentelemetry.trace.get_tracer("pgflow")``. Each ``X.start`` opens a
    span named ``pgflow.X`` (``pgflow.task <flow>.<step>``, ``pgflow.poll <queue>``,
    ``pgflow.db.query <query>``) whose attributes are the metadata; ``X.stop`` ends it,
    ``X.exception`` marks it as an error first. A task's span continues the trace stored with
    its run (see :mod:`pgflow.tracing`). Raises :class:`pgflow.errors.MissingExtra` without
    OpenTelemetry.
    """
    global _activate
    from pgflow.tracing import Bridge

    bridge = Bridge(tracer)
    patterns = [f"{s}.{phase}" for s in spans for phase in ("start", "stop", "exception")]
    if "task" in spans:
        patterns.append("task.reported")
    attach("pgflow.opentelemetry", patterns, bridge)
    _activate = bridge.activate


def detach_opentelemetry() -> None:
    """Stop making OpenTelemetry spans."""
    global _activate
    _activate = None
    detach("pgflow.opentelemetry")
