"""OpenTelemetry for pgflow-py: one trace from the code that starts a run to every task of it.

Two halves, both free when OpenTelemetry is not in use:

- :func:`capture` is called by every start of a run (``pgflow.ops.runs.start_options``): when a
  span is current, its W3C trace context (``traceparent``, ``tracestate``) is stored with the run
  (``pgflow.runs.trace_context``), not in the pgmq message nor in the input, so a TypeScript
  worker sees the same messages. When ``opentelemetry`` was never imported no span can be
  current, and it returns None after one dictionary lookup.
- :class:`Bridge` turns pgflow's telemetry spans (:mod:`pgflow.telemetry`) into OpenTelemetry
  spans; ``telemetry.attach_opentelemetry()`` attaches it. A worker that has it attached reads
  each claimed task's trace context with the claim (same statement), and each task's span is a
  *child* of the context stored with its run: a run is one trace, whichever worker process runs
  each task. Tasks of a map are siblings under it (a map of 10,000 items is 10,000 children of
  one parent, which trace back ends handle; links would split the run into 10,000 traces). The
  report of a task's outcome is a ``pgflow.complete`` / ``pgflow.fail`` child of its task span,
  covering the batched round trip that stored it.

Attributes follow OpenTelemetry's messaging conventions where they fit (``messaging.system`` is
``pgmq``; ``messaging.operation.type`` ``receive`` for a read of a queue, ``process`` for a
handler, ``settle`` for its report) and carry pgflow's own as ``pgflow.*``.
"""

from __future__ import annotations

import sys
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pgflow.errors import MissingExtra

REMEMBERED_TASKS = 10_000  # task spans kept to parent their report (reports follow within seconds)

_w3c: Any = None


def _propagator() -> Any:
    global _w3c
    if _w3c is None:
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        _w3c = TraceContextTextMapPropagator()
    return _w3c


def capture() -> dict[str, str] | None:
    """The W3C trace context of the span current here, or None (no OpenTelemetry, no span)."""
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:  # never imported: no span can be current
        return None
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    _propagator().inject(carrier)
    return carrier or None


def parent_context(trace_context: Any) -> Any:
    """The OpenTelemetry context a stored trace context continues (an empty one when None)."""
    from opentelemetry.context import Context

    if not isinstance(trace_context, dict) or "traceparent" not in trace_context:
        return Context()  # a root: not the worker's current context
    return _propagator().extract({k: str(v) for k, v in trace_context.items()}, context=Context())


def _load() -> Any:
    try:
        from opentelemetry import trace
    except ImportError as exc:
        raise MissingExtra("OpenTelemetry tracing", "otel", "opentelemetry-api") from exc
    return trace


def _value(v: Any) -> Any:
    return v if isinstance(v, (bool, int, float, str)) else str(v)


def _pgflow_attributes(md: dict[str, Any]) -> dict[str, Any]:
    return {f"pgflow.{k}": _value(v) for k, v in md.items()
            if v is not None and k not in ("trace_context", "span_id")}


class Bridge:
    """A telemetry handler: each ``X.start`` opens an OpenTelemetry span, ``X.stop`` ends it,
    ``X.exception`` marks it as an error first; ``task.reported`` adds the settle span."""

    def __init__(self, tracer: Any = None) -> None:
        self._trace = _load()
        from opentelemetry import context as otel_context

        self._context = otel_context
        self._tracer = tracer or self._trace.get_tracer("pgflow")
        self._open: dict[int, tuple[Any, Any]] = {}  # span_id -> (span, token of the current context)
        self._tasks: OrderedDict[tuple[Any, ...], Any] = OrderedDict()  # task key -> its span's context

    def __call__(self, event: str, measurements: dict[str, Any], metadata: dict[str, Any]) -> None:
        if event == "task.reported":
            self._reported(measurements, metadata)
            return
        name, _, phase = event.rpartition(".")
        key = metadata.get("span_id")
        if key is None:
            return
        if phase == "start":
            self._start(name, key, metadata)
            return
        span, token = self._open.pop(key, (None, None))
        if span is None:
            return
        if token is not None:
            self._context.detach(token)
        if name == "poll" and "messages" in measurements:
            span.set_attribute("messaging.batch.message_count", measurements["messages"])
        if phase == "exception":
            kind = metadata.get("kind")
            if kind:
                span.set_attribute("error.type", str(kind))
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, str(metadata.get("error"))))
        span.set_attributes({f"pgflow.{k}": v for k, v in measurements.items() if isinstance(v, (int, float))})
        span.end()

    def _start(self, name: str, key: int, md: dict[str, Any]) -> None:
        kind = self._trace.SpanKind
        attributes = _pgflow_attributes(md)
        if name == "task":
            attributes.update({
                "messaging.system": "pgmq", "messaging.operation.type": "process",
                "messaging.operation.name": "process", "messaging.destination.name": str(md.get("flow_slug")),
                "messaging.message.id": str(md.get("msg_id")),
                "messaging.consumer.group.name": str(md.get("worker_name")),
            })
            span = self._tracer.start_span(f"pgflow.task {md.get('flow_slug')}.{md.get('step_slug')}",
                                           context=parent_context(md.get("trace_context")),
                                           kind=kind.CONSUMER, attributes=attributes)
            self._remember(_task_key(md), span)
            self._open[key] = (span, None)  # made current by activate() around the handler call
            return
        if name == "poll":
            attributes.update({"messaging.system": "pgmq", "messaging.operation.type": "receive",
                               "messaging.operation.name": "read", "messaging.destination.name": str(md.get("queue"))})
            span = self._tracer.start_span(f"pgflow.poll {md.get('queue')}", kind=kind.CONSUMER, attributes=attributes)
        elif name == "db.query":
            attributes.update({"db.system.name": "postgresql", "db.operation.name": str(md.get("query"))})
            span = self._tracer.start_span(f"pgflow.db.query {md.get('query')}", kind=kind.CLIENT,
                                           attributes=attributes)
        else:
            span = self._tracer.start_span(f"pgflow.{name}", attributes=attributes)
        # current while it lasts (a with-block in one task): a run started inside a client's
        # start_flow call stores that span's context, so its tasks hang under it
        token = self._context.attach(self._trace.set_span_in_context(span))
        self._open[key] = (span, token)

    def _remember(self, key: tuple[Any, ...], span: Any) -> None:
        self._tasks[key] = span.get_span_context()
        if len(self._tasks) > REMEMBERED_TASKS:
            self._tasks.popitem(last=False)

    def _reported(self, ms: dict[str, Any], md: dict[str, Any]) -> None:
        parent = self._tasks.pop(_task_key(md), None)
        if parent is None:
            return
        end = time.time_ns()
        start = end - int(ms.get("duration", 0.0) * 1e9)
        outcome = md.get("outcome")
        span = self._tracer.start_span(
            "pgflow.complete" if outcome == "completed" else "pgflow.fail",
            context=self._trace.set_span_in_context(self._trace.NonRecordingSpan(parent)),
            kind=self._trace.SpanKind.CLIENT, start_time=start,
            attributes={"messaging.system": "pgmq", "messaging.operation.type": "settle",
                        "messaging.operation.name": "complete" if outcome == "completed" else "fail",
                        "messaging.batch.message_count": int(ms.get("batch", 1)), **_pgflow_attributes(md)})
        span.end(end_time=end)

    @contextmanager
    def activate(self, span_id: int) -> Iterator[None]:
        """Make a task's span current while its handler is started: an async handler's task and
        a sync handler's thread copy the context then, so the handler's own spans are its children."""
        found = self._open.get(span_id)
        if found is None:
            yield
            return
        token = self._context.attach(self._trace.set_span_in_context(found[0]))
        try:
            yield
        finally:
            self._context.detach(token)


def _task_key(md: dict[str, Any]) -> tuple[Any, ...]:
    return (md.get("run_id"), md.get("step_slug"), md.get("task_index"), md.get("attempt"))
