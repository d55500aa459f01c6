"""``pgflow start``, ``pgflow enqueue`` and ``pgflow prune``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from pgflow.cli.common import (
    client_for, database_option, echo_json, echo_table, fail, json_option, main_group, parse_duration,
    parse_json_option,
)
from pgflow.cli.runs import echo_run
from pgflow.cli.watch import follow, progress_option

def parse_when(text: str) -> datetime:
    """An ISO 8601 time with a time zone (``2030-01-01T09:00:00+01:00`` or ``...Z``)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        fail(f"--at {text!r} is not an ISO 8601 time; write e.g. 2030-01-01T09:00:00+01:00 or 2030-01-01T08:00:00Z")
    if moment.tzinfo is None:
        fail(f"--at {text!r} has no time zone; add one, e.g. {text.strip()}+00:00 or {text.strip()}Z")
    return moment


input_option = click.option("--input", "input_text", default="{}", show_default=True, metavar="JSON",
                            help="The run's input as JSON.")


def idempotency_options(command: Any) -> Any:
    """--idempotency-key and --idempotency-ttl of ``start`` and ``enqueue``."""
    command = click.option("--idempotency-ttl", "idempotency_ttl", default=None, metavar="DURATION",
                           help="How long the key is kept after the run ends: 90s, 15m, 12h, 7d, or 'forever' "
                                "(default 24h).")(command)
    return click.option("--idempotency-key", "idempotency_key", default=None, metavar="KEY",
                        help="Start no new run if a run of this flow holds KEY (1-200 characters): print that "
                             "run's id instead.")(command)


def priority_option(command: Any) -> Any:
    """--priority of ``start`` and ``enqueue``."""
    return click.option("--priority", type=click.IntRange(0, 1000), default=None, metavar="0-1000",
                        help="Claim this run's tasks before those of lower-priority runs of the flow (default 0).")(command)


def idempotency_kwargs(key: str | None, ttl: str | None) -> dict[str, Any]:
    """The client's idempotency arguments for the options (none when no key is given)."""
    if key is None:
        if ttl is not None:
            fail("--idempotency-ttl needs --idempotency-key")
        return {}
    if ttl is None:
        return {"idempotency_key": key}
    return {"idempotency_key": key,
            "idempotency_ttl": None if ttl.strip().lower() == "forever" else parse_duration(ttl, "--idempotency-ttl", "s")}


@main_group.command()
@click.argument("slug")
@input_option
@click.option("--wait", is_flag=True,
              help="Follow the run on its events until it ends, then show it (exit 1 if it failed).")
@click.option("--timeout", type=click.FloatRange(min=0), default=None,
              help="With --wait: give up waiting after this many seconds (the run goes on). Default: no limit.")
@progress_option
@idempotency_options
@priority_option
@click.option("--signal-key", "signal_key", default=None, metavar="KEY",
              help="A key that signals can name the run by (`pgflow runs signal --flow SLUG --key KEY STEP`).")
@database_option
@json_option
def start(slug: str, input_text: str, wait: bool, timeout: float | None, progress: bool | None,
          idempotency_key: str | None, idempotency_ttl: str | None, priority: int | None, signal_key: str | None,
          database_url: str | None, as_json: bool) -> None:
    """Start a run of flow SLUG; print its run id (or, with --wait, the run id on stderr, its
    progress on a terminal, then the finished run). Ctrl-C stops the waiting, not the run.
    With --idempotency-key, a run of SLUG that holds the key is returned (and followed) instead."""
    value = parse_json_option(input_text)
    keyed = idempotency_kwargs(idempotency_key, idempotency_ttl)
    if priority is not None:
        keyed["priority"] = priority
    if signal_key is not None:
        keyed["signal_key"] = signal_key
    if wait and not keyed:
        follow(database_url, None, (slug, value), timeout, as_json, progress, echo_run)
        return
    with client_for(database_url) as client:
        run_id = client.start_flow(slug, value, **keyed)
    if wait:  # the key's run, new or not: follow it (a run already over is shown at once)
        follow(database_url, str(run_id), None, timeout, as_json, progress, echo_run)
        return
    if as_json:
        echo_json({"run_id": run_id})
    else:
        click.echo(str(run_id))


@main_group.command()
@click.argument("slug")
@input_option
@click.option("--in", "delay", default=None, metavar="DURATION",
              help="Make the first task due after this long: seconds, or 90s, 15m, 12h, 7d.")
@click.option("--at", "at", default=None, metavar="ISO",
              help="Make the first task due at this time, with a time zone (2030-01-01T09:00:00+01:00).")
@idempotency_options
@priority_option
@database_option
@json_option
def enqueue(slug: str, input_text: str, delay: str | None, at: str | None, idempotency_key: str | None,
            idempotency_ttl: str | None, priority: int | None, database_url: str | None, as_json: bool) -> None:
    """Enqueue a run of job (or flow) SLUG, now or later; print its run id. With
    --idempotency-key, a run of SLUG that holds the key is printed instead of a new one."""
    if delay is not None and at is not None:
        fail("give --in or --at, not both")
    value = parse_json_option(input_text)
    seconds = parse_duration(delay, "--in", "s") if delay is not None else None
    moment = parse_when(at) if at is not None else None
    keyed = idempotency_kwargs(idempotency_key, idempotency_ttl)
    with client_for(database_url) as client:
        run_id = client.enqueue(slug, value, delay_seconds=seconds, scheduled_at=moment, priority=priority, **keyed)
    if as_json:
        echo_json({"run_id": run_id, "scheduled_at": moment, "delay_seconds": seconds and seconds.total_seconds()})
    else:
        click.echo(str(run_id))


@main_group.command()
@click.option("--older-than", "older_than", required=True, metavar="DURATION",
              help="Delete what finished longer ago than this: 7d, 12h, 2w (a bare number is days).")
@click.option("--flow", "flows", multiple=True, metavar="SLUG", help="Only runs of this flow (repeatable).")
@click.option("--batch-size", "batch_size", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Runs deleted per transaction (short transactions let VACUUM keep up).")
@database_option
@json_option
def prune(older_than: str, flows: tuple[str, ...], batch_size: int, database_url: str | None, as_json: bool) -> None:
    """Delete finished runs (with their steps, tasks and archived messages) and dead workers."""
    age = parse_duration(older_than, "--older-than", "d")
    with client_for(database_url) as client:
        for slug in flows:
            client.get_flow(slug)  # an unknown slug is an error, not a silent no-op
        counts = client.prune(older_than=age, flows=list(flows) or None, batch_size=batch_size)
    if as_json:
        echo_json(counts)
    else:
        echo_table(sorted(counts.items()), ["deleted", "rows"])
