"""``pgflow runs watch ID`` and ``pgflow start --wait``: follow a run on its events until it ends.

Both print the run id first, then (on a terminal, or with ``--progress``) one line per step
event as the database publishes it, then the finished run. Ctrl-C stops the waiting, not the
run: the message says how to follow it again.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

import click

from pgflow import events
from pgflow.cli.common import dsn_for, echo_json, fail
from pgflow.models import Run, RunStatus
from pgflow.textsafe import printable

STATUS_COLOURS = {"completed": "green", "failed": "red", "skipped": "yellow", "started": "cyan",
                  "created": "white", "cancelled": "yellow", "queued": "white"}


progress_option = click.option(
    "--progress/--no-progress", default=None,
    help="A line per step event on stderr while waiting (default: when stderr is a terminal).")


def styled_status(status: str) -> str:
    """A status in its colour; click drops the colour when the output is not a terminal."""
    return click.style(status, fg=STATUS_COLOURS.get(status.strip()))


def follow_hint(run_id: UUID) -> str:
    return f"follow it with `pgflow runs watch {run_id}`, or see it with `pgflow runs show {run_id}`"


class Progress:
    """One line per step event (and map progress), to stderr: stdout keeps the run's result."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.monotonic()
        self.done: dict[str, int] = {}
        self.total: dict[str, int] = {}

    def line(self, subject: str, what: str, detail: str = "") -> None:
        if self.enabled:
            elapsed = time.monotonic() - self.started
            detail = printable(detail)  # an error's text comes from the handler
            click.echo(f"  +{elapsed:6.2f}s  {subject:<17} {styled_status(what.ljust(10))} {detail}".rstrip(), err=True)

    def __call__(self, event: Any) -> None:
        if isinstance(event, events.StepStartedEvent):
            many = (event.initial_tasks or 0) > 1
            if many:
                self.total[event.step_slug] = event.initial_tasks
            self.line(event.step_slug, "started", f"({event.initial_tasks} tasks)" if many else "")
        elif isinstance(event, events.TaskCompletedEvent) and event.step_slug in self.total:
            n = self.done[event.step_slug] = self.done.get(event.step_slug, 0) + 1
            of = self.total[event.step_slug]
            if n == of or n % max(1, of // 10) == 0:  # about ten lines for a map, whatever its size
                self.line(event.step_slug, "tasks", f"{n}/{of} done")
        elif isinstance(event, events.TaskFailedEvent):
            self.line(event.step_slug, "failed", f"task {event.task_index}: "
                      + (event.error_message or "").strip().splitlines()[0] if event.error_message else "")
        elif isinstance(event, events.StepCompletedEvent):
            self.line(event.step_slug, "completed")
        elif isinstance(event, events.StepFailedEvent):
            self.line(event.step_slug, "failed", (event.error_message or "").strip().split("\n")[0])
        elif isinstance(event, events.StepSkippedEvent):
            self.line(event.step_slug, "skipped", event.skip_reason or "")
        elif isinstance(event, events.RunCompletedEvent):
            self.line("run", "completed")
        elif isinstance(event, events.RunFailedEvent):
            self.line("run", "failed", (event.error_message or "").strip().split("\n")[0])


async def _follow(client: Any, run_id: UUID, start: tuple[str, Any] | None, timeout: float | None,
                  progress: Progress) -> Run | None:
    """Subscribe, start the run (``start`` = slug and input) or load it, print its events until it
    ends; return the finished run with its states, or None after ``timeout`` seconds."""
    async with client.subscribe(run_id) as feed:  # listening before the start: no event is missed
        if start is not None:
            await client.start_flow(start[0], start[1], run_id=run_id)
        click.echo(f"run {run_id} {'started' if start is not None else 'followed'}", err=True)
        if not (await client.get_run(run_id)).finished:
            async def pump() -> None:
                async for event in feed:
                    progress(event)
            try:
                await asyncio.wait_for(pump(), timeout)
            except asyncio.TimeoutError:
                return None
    final: Run = await client.get_run_with_states(run_id)
    return final


def follow(database_url: str | None, run_id: str | None, start: tuple[str, Any] | None,
           timeout: float | None, as_json: bool, progress: bool | None, show: Callable[[Run], None]) -> None:
    """Run :func:`_follow` for a CLI command, print the outcome (``show``: as people read it),
    exit 1 if the run failed."""
    from pgflow.client import AsyncClient

    dsn = dsn_for(database_url)
    shown = Progress(sys.stderr.isatty() if progress is None else progress)

    async def main() -> tuple[UUID, Run | None]:
        async with AsyncClient(dsn, max_size=2) as client:
            found = await client.find_run_id(run_id) if run_id is not None else await client.new_run_id()
            state["run_id"] = found
            return found, await _follow(client, found, start, timeout, shown)

    state: dict[str, UUID] = {}
    try:
        found, run = asyncio.run(main())
    except KeyboardInterrupt:
        if "run_id" not in state:
            raise
        click.echo(f"\nstopped waiting; run {state['run_id']} goes on: {follow_hint(state['run_id'])}", err=True)
        sys.exit(130)
    if run is None:
        fail(f"run {found} did not finish within {timeout:g} s; it goes on: {follow_hint(found)}")
    if as_json:
        echo_json(run)
    else:
        show(run)
    if run.status == RunStatus.FAILED:
        sys.exit(1)
