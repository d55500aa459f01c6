"""``--log-format json``: one JSON object per line, for log collectors that join logs and traces.

Each line has ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``event`` (the telemetry event, or
null for a plain log record), ``message``, and, when they are known, ``run_id``, ``flow_slug``,
``step_slug``, ``task_index``, ``attempt``, ``worker_name`` and ``trace_id``/``span_id``: the
run's trace (the W3C context stored with it when OpenTelemetry was in use where it started), or
the span current where the record was logged.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any

import click

_FIELDS = ("run_id", "flow_slug", "step_slug", "task_index", "attempt", "msg_id", "worker_name", "queue",
           "schedule_slug", "kind", "error", "error_message")
_LEVELS = {"task.exception": "WARNING", "run.failed": "WARNING", "task.handed_back": "WARNING"}
_NAMES = {"task.start": "task.started", "task.stop": "task.completed", "task.exception": "task.failed"}


def _ids(metadata: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {k: metadata[k] if isinstance(metadata[k], (int, float, str, bool)) else str(metadata[k])
                             for k in _FIELDS if metadata.get(k) is not None}
    context = metadata.get("trace_context")
    if isinstance(context, dict) and isinstance(context.get("traceparent"), str):
        parts = context["traceparent"].split("-")
        if len(parts) == 4:
            found["trace_id"] = parts[1]
    return found


def _current_trace() -> dict[str, str]:
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return {}
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return {}
    return {"trace_id": f"{span_context.trace_id:032x}", "span_id": f"{span_context.span_id:016x}"}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """A log record as one JSON line (the telemetry metadata of pgflow's own records included)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "event": getattr(record, "pgflow_event", None),
            "message": record.getMessage(),
        }
        metadata = getattr(record, "pgflow_metadata", None)
        line.update(_current_trace())
        if isinstance(metadata, dict):
            line.update(_ids(metadata))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class JsonLines:
    """The worker's task lines (a telemetry handler) as JSON objects on stdout."""

    def __call__(self, event: str, measurements: dict[str, Any], metadata: dict[str, Any]) -> None:
        if event == "task.exception" and metadata.get("kind") == "cancelled":
            return  # stopped at shutdown, not failed: its task.handed_back line follows
        line: dict[str, Any] = {"time": _now(), "level": _LEVELS.get(event, "INFO"), "logger": "pgflow.worker",
                                "event": _NAMES.get(event, event)}
        line.update(_ids(metadata))
        if "duration" in measurements:
            line["duration"] = round(float(measurements["duration"]), 6)
        if event == "worker.start":
            line.update(flows=list(metadata.get("flows", ())), queues=list(metadata.get("queues", ())),
                        max_concurrency=metadata.get("max_concurrency"), signal=metadata.get("signal"))
        click.echo(json.dumps(line, default=str))


def echo_json_line(event: str, **fields: Any) -> None:
    """One JSON line of the command itself (such as the worker's last line)."""
    click.echo(json.dumps({"time": _now(), "level": "INFO", "logger": "pgflow.worker", "event": event, **fields},
                          default=str))


__all__ = ["JsonFormatter", "JsonLines", "echo_json_line"]
