"""``pgflow worker``: run the handlers of flows and jobs until SIGINT/SIGTERM.

    pgflow worker myapp.flows:order myapp.jobs --concurrency 20 --signal notify

Prints a banner, then one line per task event: readable on a terminal, ``key=value`` pairs
otherwise (for log collectors). Warnings (lost database, deprecation) go to stderr.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime, timezone
from typing import Any

import click
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pgflow import telemetry
from pgflow.cli.common import database_option, dsn_for, main_group
from pgflow.cli.logformat import JsonFormatter, JsonLines, echo_json_line
from pgflow.dsl.loader import load_targets
from pgflow.ops.runs import short_id
from pgflow.textsafe import PrintableFormatter, printable

TASK_EVENTS = ("task.start", "task.stop", "task.exception", "task.handed_back", "run.completed", "run.failed")
_NAMES = {"task.start": "task.started", "task.stop": "task.completed", "task.exception": "task.failed"}


@main_group.command("worker")
@click.argument("targets", nargs=-1, required=True)
@database_option
@click.option("--concurrency", "-c", type=click.IntRange(min=1), default=10, show_default=True,
              help="Tasks run at once, across all the flows.")
@click.option("--batch-size", type=click.IntRange(min=1), default=10, show_default=True,
              help="Messages read per queue at a time.")
@click.option("--signal", type=click.Choice(["notify", "polling"]), default="notify", show_default=True,
              help="How the worker learns of new tasks: LISTEN/NOTIFY (with a fallback poll) or polling.")
@click.option("--name", default=None, help="Name in pgflow.workers (default: pgflow-py@<host>).")
@click.option("--shutdown-timeout", type=click.FloatRange(min=0), default=30.0, show_default=True,
              help="Seconds in-flight tasks may finish after SIGTERM before they are handed back.")
@click.option("--heartbeat-interval", type=click.FloatRange(min=0.1), default=5.0, show_default=True)
@click.option("--cancel-grace", type=click.FloatRange(min=0), default=5.0, show_default=True,
              help="Seconds an async handler of a cancelled run may still run before it is cancelled (the "
                   "worker learns of a cancel on its next heartbeat).")
@click.option("--recovery-interval", type=click.FloatRange(min=0.1), default=15.0, show_default=True,
              help="Seconds between sweeps for stalled tasks of crashed workers.")
@click.option("--allow-data-loss", is_flag=True, help="Recompile a changed flow, deleting its runs.")
@click.option("--no-scheduler", "no_scheduler", is_flag=True,
              help="Do not run the built-in scheduler nor sync the flows' cron= (see `pgflow schedules`).")
@click.option("--format", "style", type=click.Choice(["auto", "human", "kv"]), default="auto", show_default=True,
              help="Task lines for people or key=value pairs (auto: human on a terminal).")
@click.option("--quiet", "-q", is_flag=True, help="No line per task; only the banner and warnings.")
@click.option("--error-detail", type=click.Choice(["traceback", "line"]), default="traceback", show_default=True,
              help="What a failed task's stored error holds: the exception line and its last frames, or the "
                   "line only (the traceback then goes to this log).")
@click.option("--otel", is_flag=True,
              help="Send spans to OpenTelemetry (the tracer provider your flows module or opentelemetry-instrument "
                   "set up): each task continues the trace of the code that started its run.")
@click.option("--log-format", "log_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: every line (task lines and log records) is a JSON object with run, step and task ids "
                   "and the trace id.")
def worker_command(targets: tuple[str, ...], database_url: str | None, concurrency: int, batch_size: int,
                   signal: str, name: str | None, shutdown_timeout: float, heartbeat_interval: float,
                   recovery_interval: float, allow_data_loss: bool, style: str, quiet: bool,
                   no_scheduler: bool = False, error_detail: str = "traceback", cancel_grace: float = 5.0,
                   otel: bool = False, log_format: str = "text") -> None:
    """Run the handlers of TARGETS: module:attribute for one flow or job, module for all in it.

    Stops gracefully on SIGINT/SIGTERM: in-flight tasks finish (up to --shutdown-timeout), the
    rest go back to their queue. A second signal stops at once.
    """
    from pgflow.worker import Worker

    flows = load_targets(*targets)
    dsn = dsn_for(database_url)
    human = style == "human" or (style == "auto" and sys.stdout.isatty())
    _configure_logging(log_format == "json")
    if otel:
        telemetry.attach_opentelemetry()
    worker = Worker(dsn, flows, max_concurrency=concurrency, batch_size=batch_size, signal=signal, name=name,
                    shutdown_timeout=shutdown_timeout, heartbeat_interval=heartbeat_interval, cancel_grace=cancel_grace,
                    recovery_interval=recovery_interval, allow_data_loss=allow_data_loss,
                    scheduler=not no_scheduler, error_detail="line" if error_detail == "line" else "traceback")
    json_lines = log_format == "json"
    printer = JsonLines() if json_lines else _Printer(human)
    telemetry.attach("pgflow.cli.banner", "worker.start",
                     printer if json_lines else lambda e, m, md: _banner(worker, dsn, flows))
    if not quiet:
        telemetry.attach("pgflow.cli.tasks", list(TASK_EVENTS), printer)
    try:
        worker.run()
    finally:
        telemetry.detach("pgflow.cli.banner")
        telemetry.detach("pgflow.cli.tasks")
    if json_lines:
        echo_json_line("worker.stopped", worker_name=worker.name, completed=worker.completed, failed=worker.failed,
                       handed_back=worker.handed_back)
        return
    click.echo(f"worker {worker.name} stopped: {worker.completed} completed, {worker.failed} failed, "
               f"{worker.handed_back} handed back")


def _configure_logging(json_lines: bool = False) -> None:
    """Warnings and lifecycle messages to stderr; task lines come from the printer instead."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines
                         else PrintableFormatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    logger = logging.getLogger("pgflow")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    telemetry.detach("pgflow.logging")
    telemetry.attach("pgflow.logging", [e for e in telemetry.EVENTS
                                        if e not in telemetry.SPAN_STARTS and e not in TASK_EVENTS
                                        and e != "worker.start"], telemetry.log_event)


def redact(dsn: str) -> str:
    """The URL without its password."""
    try:
        params = conninfo_to_dict(dsn)
    except Exception:
        return "(unparsable database URL)"
    if params.get("password"):
        params["password"] = "***"
    return make_conninfo("", **params)


def _banner(worker: Any, dsn: str, flows: list[Any]) -> None:
    kinds = ", ".join(f"{f.slug} ({f.flow_type}, {len(f.steps)} step{'s' if len(f.steps) != 1 else ''})"
                      for f in flows)
    ids = "  ".join(f"{queue}={wid}" for queue, wid in worker.queue_worker_ids.items())
    cfg = worker.config
    click.echo(f"pgflow worker {worker.name}")
    click.echo(f"  database   {redact(dsn)}")
    click.echo(f"  flows      {kinds}")
    click.echo(f"  queues     {', '.join(worker.queue_worker_ids)}")
    click.echo(f"  worker ids {ids}")
    click.echo(f"  signal {cfg.signal}, concurrency {cfg.max_concurrency}, batch {cfg.batch_size}, "
               f"shutdown timeout {cfg.shutdown_timeout:g} s")
    sys.stdout.flush()


class _Printer:
    """One line per task event."""

    def __init__(self, human: bool) -> None:
        self.human = human

    def __call__(self, event: str, measurements: dict[str, Any], md: dict[str, Any]) -> None:
        if event == "task.exception" and md.get("kind") == "cancelled":
            return  # the handler was stopped at shutdown, not failed: its task.handed_back line follows
        name = _NAMES.get(event, event)
        if self.human:
            line = self._human(name, measurements, md)
        else:
            line = self._kv(name, measurements, md)
        click.echo(printable(line))  # errors are the handlers' text: no control sequence reaches the terminal
        sys.stdout.flush()

    def _human(self, name: str, ms: dict[str, Any], md: dict[str, Any]) -> str:
        now = datetime.now().strftime("%H:%M:%S.%f")[:-3]
        run = short_id(md.get("run_id"))
        if name.startswith("run."):
            tail = f"  {md.get('error_message') or ''}".rstrip()
            mark = "●" if name == "run.completed" else "✗"
            return f"{now} {mark} run {run} of {md.get('flow_slug')} {name.split('.')[1]}{tail}"
        task = f"{md.get('flow_slug')}/{md.get('step_slug')}[{md.get('task_index')}]"
        if name == "task.started":
            return f"{now} ▶ {task} run {run} attempt {md.get('attempt')}"
        if name == "task.completed":
            return f"{now} ✓ {task} run {run} {ms.get('duration', 0) * 1000:.0f} ms"
        if name == "task.failed":
            first = str(md.get("error") or "").splitlines()[0] if md.get("error") else ""
            return f"{now} ✗ {task} run {run} attempt {md.get('attempt')} {md.get('kind')}: {first}"
        return f"{now} ↩ {task} run {run} handed back"

    def _kv(self, name: str, ms: dict[str, Any], md: dict[str, Any]) -> str:
        pairs: dict[str, Any] = {"ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), "event": name,
                                 "flow": md.get("flow_slug"), "run": md.get("run_id")}
        if name.startswith("task."):
            pairs.update(step=md.get("step_slug"), task=md.get("task_index"), attempt=md.get("attempt"),
                         worker=md.get("worker_id"))
        if "duration" in ms:
            pairs["duration_ms"] = f"{ms['duration'] * 1000:.1f}"
        if name == "task.failed":
            pairs["kind"] = md.get("kind")
            pairs["error"] = str(md.get("error") or "").splitlines()[0] if md.get("error") else ""
        if name == "run.failed":
            pairs["error"] = md.get("error_message")
        return " ".join(f"{k}={_kv_value(v)}" for k, v in pairs.items() if v is not None)


def _kv_value(value: Any) -> str:
    text = str(value)
    if not text or any(c in text for c in ' "=\t'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text
