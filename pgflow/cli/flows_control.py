"""``pgflow flows pause|resume|limits``: flow control (docs/guides/flow-control.md)."""

from __future__ import annotations

from typing import Any

import click

from pgflow.cli.common import client_for, database_option, echo_json, json_option
from pgflow.cli.flows import flows, when_zoned
from pgflow.models import FlowControl


def _limit(text: str, what: str) -> int | None:
    """A limit given on the command line: a whole number, or ``none`` to remove it."""
    if text.strip().lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise click.BadParameter(f"{what} takes a whole number of at least 1, or 'none' to remove it; got {text!r}")


def _echo_state(state: FlowControl, as_json: bool) -> None:
    if as_json:
        echo_json({**vars(state), "paused": state.paused, "limits": state.limits})
        return
    if state.paused_at is not None:
        reason = f": {state.pause_reason}" if state.pause_reason else ""
        click.echo(f"{state.flow_slug}: paused since {when_zoned(state.paused_at)}{reason}")
    else:
        click.echo(f"{state.flow_slug}: claiming")
    limit = "no limit" if state.max_running is None else f"max {state.max_running}"
    click.echo(f"  running {state.running} ({limit}), queued {state.queued}")
    running = state.running_by_step or {}
    for step, n in sorted((state.step_limits or {}).items()):
        click.echo(f"  step {step}: running {running.get(step, 0)} (max {n})")


@flows.command("pause")
@click.argument("slug")
@click.option("--reason", default=None, help="Why: shown by `flows limits` and the dashboard.")
@database_option
@json_option
def pause_command(slug: str, reason: str | None, database_url: str | None, as_json: bool) -> None:
    """Stop every worker (Python or TypeScript) claiming the flow's tasks, from the next claim on.
    Running tasks finish; new runs start and their tasks wait. Lasts until `flows resume`."""
    with client_for(database_url) as client:
        _echo_state(client.pause_flow(slug, reason=reason), as_json)


@flows.command("resume")
@click.argument("slug")
@database_option
@json_option
def resume_command(slug: str, database_url: str | None, as_json: bool) -> None:
    """Let workers claim the flow's tasks again, in queue order."""
    with client_for(database_url) as client:
        _echo_state(client.resume_flow(slug), as_json)


@flows.command("limits")
@click.argument("slug")
@click.option("--max-running", default=None, metavar="N|none",
              help="At most N of the flow's tasks running at once across all workers ('none': no limit).")
@click.option("--step", "steps", multiple=True, metavar="STEP=N|none",
              help="At most N of that step's tasks running at once (repeatable; 'none' removes it).")
@database_option
@json_option
def limits_command(slug: str, max_running: str | None, steps: tuple[str, ...], database_url: str | None,
                   as_json: bool) -> None:
    """Show a flow's limits, running and queued tasks; with --max-running / --step, change the
    limits first (at once, for every worker, until the flow's code declares different ones)."""
    step_limits: dict[str, int | None] = {}
    for given in steps:
        step, sep, value = given.partition("=")
        if not sep or not step:
            raise click.BadParameter(f"--step takes STEP=N or STEP=none, got {given!r}")
        step_limits[step] = _limit(value, f"--step {step}")
    with client_for(database_url) as client:
        if max_running is None and not step_limits:
            state = client.get_flow_control(slug)
        else:
            changes: dict[str, Any] = {"steps": step_limits or None}
            if max_running is not None:
                changes["max_running"] = _limit(max_running, "--max-running")
            state = client.set_limits(slug, **changes)
    _echo_state(state, as_json)
