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


def _rate(text: str, what: str) -> tuple[int, float] | None:
    """A rate given on the command line: COUNT/SECONDS (10/1, 100/60), or ``none`` to remove it."""
    if text.strip().lower() == "none":
        return None
    count, sep, seconds = text.partition("/")
    try:
        return int(count), float(seconds or "1")
    except ValueError:
        raise click.BadParameter(f"{what} takes COUNT/SECONDS (10/1 for 10 starts a second), or 'none'; got {text!r}")


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
    rate = "" if state.rate_limit is None else f", at most {state.rate_limit[0]} starts per {state.rate_limit[1]:g} s"
    click.echo(f"  running {state.running} ({limit}){rate}, queued {state.queued}")
    running = state.running_by_step or {}
    for step in sorted(set(state.step_limits or {}) | set(state.step_rate_limits or {})):
        n = (state.step_limits or {}).get(step)
        step_rate = (state.step_rate_limits or {}).get(step)
        parts = [f"running {running.get(step, 0)}" + (f" (max {n})" if n is not None else "")]
        if step_rate is not None:
            parts.append(f"at most {step_rate[0]} starts per {step_rate[1]:g} s")
        click.echo(f"  step {step}: " + ", ".join(parts))
    if (state.max_running_per_key is not None or state.concurrency_key is not None
            or state.rate_limit_per_key is not None):
        by_key = state.running_by_key or {}
        busiest = sorted(by_key.items(), key=lambda item: (-item[1], item[0]))[:5]
        shown = ", ".join(f"{key or '(no key)'} {n}" for key, n in busiest) or "none"
        limit = "no limit" if state.max_running_per_key is None else f"max {state.max_running_per_key} per key"
        if state.rate_limit_per_key is not None:
            limit += f", at most {state.rate_limit_per_key[0]} starts per {state.rate_limit_per_key[1]:g} s per key"
        click.echo(f"  per key ({state.concurrency_key or 'from a function'}): {limit}; running: {shown}"
                   + (f" (and {len(by_key) - 5} more keys)" if len(by_key) > 5 else ""))


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
@click.option("--rate", default=None, metavar="COUNT/SECONDS|none",
              help="At most COUNT task starts per SECONDS, smoothed (10/1: 10 a second; 'none': no limit).")
@click.option("--step", "steps", multiple=True, metavar="STEP=N|none",
              help="At most N of that step's tasks running at once (repeatable; 'none' removes it).")
@click.option("--step-rate", "step_rates", multiple=True, metavar="STEP=COUNT/SECONDS|none",
              help="At most COUNT starts of that step's tasks per SECONDS (repeatable; 'none' removes it).")
@click.option("--max-running-per-key", "per_key", default=None, metavar="N|none",
              help="At most N tasks running at once per concurrency key ('none': no per-key limit).")
@click.option("--rate-per-key", "key_rate", default=None, metavar="COUNT/SECONDS|none",
              help="At most COUNT task starts per SECONDS per concurrency key ('none': no per-key rate).")
@click.option("--concurrency-key", "key_path", default=None, metavar="PATH|none",
              help="The path into the run input that gives new runs their key (customer_id, customer.id).")
@database_option
@json_option
def limits_command(slug: str, max_running: str | None, rate: str | None, steps: tuple[str, ...],
                   step_rates: tuple[str, ...], per_key: str | None, key_rate: str | None, key_path: str | None,
                   database_url: str | None, as_json: bool) -> None:
    """Show a flow's limits, running and queued tasks; with --max-running / --step, change the
    limits first (at once, for every worker, until the flow's code declares different ones)."""
    step_limits: dict[str, dict[str, Any]] = {}
    for option, values in (("--step", steps), ("--step-rate", step_rates)):
        for given in values:
            step, sep, value = given.partition("=")
            if not sep or not step:
                raise click.BadParameter(f"{option} takes STEP=VALUE or STEP=none, got {given!r}")
            if option == "--step":
                step_limits.setdefault(step, {})["max_running"] = _limit(value, f"--step {step}")
            else:
                step_limits.setdefault(step, {})["rate_limit"] = _rate(value, f"--step-rate {step}")
    with client_for(database_url) as client:
        if (max_running is None and rate is None and not step_limits and per_key is None and key_rate is None
                and key_path is None):
            state = client.get_flow_control(slug)
        else:
            changes: dict[str, Any] = {"steps": step_limits or None}
            if max_running is not None:
                changes["max_running"] = _limit(max_running, "--max-running")
            if rate is not None:
                changes["rate_limit"] = _rate(rate, "--rate")
            if per_key is not None:
                changes["max_running_per_key"] = _limit(per_key, "--max-running-per-key")
            if key_rate is not None:
                changes["rate_limit_per_key"] = _rate(key_rate, "--rate-per-key")
            if key_path is not None:
                changes["concurrency_key"] = None if key_path.strip().lower() == "none" else key_path
            state = client.set_limits(slug, **changes)
    _echo_state(state, as_json)
