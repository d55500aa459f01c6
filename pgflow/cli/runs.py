"""``pgflow runs list|show``: runs and the state of their steps."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import click

from pgflow.cli.bulk import filter_kwargs, filter_options
from pgflow.cli.common import client_for, database_option, echo_json, echo_table, json_option, main_group
from pgflow.cli.flows import draw_dag, when, when_zoned
from pgflow.cli.watch import follow, progress_option, styled_status
from pgflow.models import RunStatus, StepStatus, TaskStatus
from pgflow.textsafe import printable


def took(run: Any) -> str:
    end = run.completed_at or run.failed_at
    if end is None or run.started_at is None:
        return ""
    return f"{(end - run.started_at).total_seconds():.2f} s"


def compact(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _span(value: timedelta) -> str:
    """A duration as the CLI's options write them: 1d, 12h, 15m, 90s."""
    seconds = value.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:g}s"


def _step_label(state: Any) -> str:
    parts = [state.step_slug, state.status]
    if state.due_at is not None:  # started, but its tasks wait (start delay, retry backoff)
        parts[1] = f"waiting, due at {when_zoned(state.due_at)}"
    if state.step_type == "map" or (state.initial_tasks or 0) > 1:
        done = sum(1 for t in state.tasks if t.status == TaskStatus.COMPLETED)
        parts.append(f"{done}/{state.initial_tasks if state.initial_tasks is not None else '?'} tasks")
    # tasks the step's skip or the run's failure ended before they finished
    for ended in (TaskStatus.CANCELLED, TaskStatus.SKIPPED):
        count = sum(1 for t in state.tasks if t.status == ended)
        if count:
            parts.append(f"{count} task{'s' if count > 1 else ''} {ended.value}")
    attempts = max((t.attempts_count for t in state.tasks), default=0)
    if attempts > 1:
        parts.append(f"{attempts} attempts")
    if state.skip_reason:
        parts.append(f"skipped: {state.skip_reason}")
    if state.error_message:
        parts.append(f"error: {state.error_message}")
    elif state.status == StepStatus.COMPLETED and state.output is not None:
        parts.append(f"-> {compact(state.output, 40)}")
    return "  ".join(parts)


def echo_run(run: Any) -> None:
    """A run and its steps as a tree (people's format of ``runs show`` and ``start --wait``)."""
    status = f"scheduled for {when_zoned(run.due_at)}" if run.due_at is not None else styled_status(run.status)
    click.echo(printable(f"run {run.run_id}  {run.flow_slug}  ") + status + (f"  ({took(run)})" if took(run) else ""))
    click.echo(f"started {when(run.started_at)}" + (f", {run.remaining_steps} steps to go" if not run.finished else ""))
    if run.cancelled_at is not None:
        reason = f": {run.cancel_reason}" if run.cancel_reason else ""
        click.echo(printable(f"cancelled {when(run.cancelled_at)}{reason}"))  # the reason is a person's text
    if getattr(run, "concurrency_key", None) is not None:  # the run's group for per-key limits
        click.echo(printable(f"concurrency key {run.concurrency_key!r}"))  # from the run's input
    if getattr(run, "held_by", None):  # flow control keeps its queued tasks back
        click.echo(printable(f"waiting: {run.held_by}"))  # a pause reason is a person's text
    if run.retry_of is not None:  # a retry_run or a resume_run (retry_kind None: started again before 0007)
        click.echo(f"{'resume' if run.retry_kind == 'resume' else 'retry'} of {run.retry_of}")
    for again in run.retried_by:
        click.echo(f"started again as {again}")
    if run.idempotency_key is not None:
        kept = "forever" if run.idempotency_ttl is None else f"{_span(run.idempotency_ttl)} after the run ends"
        click.echo(printable(f"idempotency key {run.idempotency_key!r} (kept {kept})"))  # the caller's text
    click.echo(f"input   {compact(run.input)}")
    if run.status == RunStatus.COMPLETED:
        click.echo(f"output  {compact(run.output)}")
    for line in draw_dag(run.step_states, _step_label):
        click.echo(printable(line))  # a step's error is the handler's text


@main_group.group()
def runs() -> None:
    """Runs of flows and jobs."""


@runs.command("list")
@filter_options
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@database_option
@json_option
def list_command(flow_slug: str | None, status: str | None, since: str | None, until: str | None,
                 input_match: str | None, limit: int, database_url: str | None, as_json: bool) -> None:
    """Runs, newest first. The filters are those `runs cancel|retry|resume` take."""
    filters = filter_kwargs(flow_slug, status, since, until, input_match)
    with client_for(database_url) as client:
        if flow_slug is not None:
            client.get_flow(flow_slug)  # an unknown slug is an error, not an empty list
        found = client.list_runs(**filters, limit=limit)
    if as_json:
        echo_json(found)
        return
    echo_table(
        [(r.run_id, r.flow_slug, r.status, when(r.started_at), took(r), r.remaining_steps) for r in found],
        ["run id", "flow", "status", "started", "took", "steps left"],
    )


@runs.command("watch")
@click.argument("run_id")
@click.option("--timeout", type=click.FloatRange(min=0), default=None,
              help="Give up waiting after this many seconds (the run goes on). Default: no limit.")
@progress_option
@database_option
@json_option
def watch_command(run_id: str, timeout: float | None, progress: bool | None, database_url: str | None,
                  as_json: bool) -> None:
    """Follow a run until it ends (its step events on a terminal), then show it like `runs show`;
    exit 1 if it failed. RUN_ID may be the whole id or a unique start or end of it."""
    follow(database_url, run_id, None, timeout, as_json, progress, echo_run)


@runs.command("show")
@click.argument("run_id")
@database_option
@json_option
def show_command(run_id: str, database_url: str | None, as_json: bool) -> None:
    """A run, its input and output, and its steps as a tree. RUN_ID may be the whole id or its
    first or last characters (at least 4, e.g. the 8 the dashboard and the worker's log show)."""
    with client_for(database_url) as client:
        run = client.get_run_with_states(client.find_run_id(run_id))
    if as_json:
        echo_json(run)
    else:
        echo_run(run)
