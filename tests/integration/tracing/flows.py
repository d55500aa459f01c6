"""A flow served by a ``pgflow worker --otel`` subprocess in the tracing test.

Importing this module sets up the OpenTelemetry SDK the way an application's flows module would:
a tracer provider whose spans go, one JSON object per line, to the file PGFLOW_TEST_SPANS names.
"""

from __future__ import annotations

import json
import os
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

import pgflow


def _line(span: ReadableSpan) -> str:
    context = span.get_span_context()
    assert context is not None
    return json.dumps({
        "name": span.name, "kind": span.kind.name, "status": span.status.status_code.name,
        "trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}",
        "parent_id": f"{span.parent.span_id:016x}" if span.parent else None,
        "attributes": dict(span.attributes or {}),
    }) + "\n"


if os.environ.get("PGFLOW_TEST_SPANS"):
    _provider = TracerProvider()
    _provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(
        out=open(os.environ["PGFLOW_TEST_SPANS"], "a"), formatter=_line)))  # noqa: SIM115 - the process's life
    trace.set_tracer_provider(_provider)

traced = pgflow.Flow("traced", max_attempts=2, base_delay=1)


@traced.array
def items(input: Any) -> list[int]:
    return list(range(input["n"]))


@traced.map(array=items)
def double(item: int) -> int:
    with trace.get_tracer("handler").start_as_current_span("inside double"):
        return item * 2


@traced.step(depends_on=[double])
def total(deps: Any, ctx: pgflow.Context) -> int:
    if ctx.attempt == 1:
        raise RuntimeError("first attempt fails")
    return sum(deps["double"])
