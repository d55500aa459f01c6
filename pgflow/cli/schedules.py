"""``pgflow schedules list|add|pause|resume|run-now|remove|backend|history``: cron schedules."""

from __future__ import annotations

from typing import Any

import click

from pgflow.cli.common import (
    client_for,
    database_option,
    echo_json,
    echo_table,
    json_option,
    main_group,
    parse_json_option,
)
from pgflow.cli.flows import when_in, when_zoned


def _row(s: Any) -> tuple[Any, ...]:
    note = s.last_error or ""
    # times in the schedule's own zone, named, like its description ("every day at 09:00 Europe/Berlin")
    return (s.slug, s.flow_slug, s.status, s.description, when_in(s.next_run_at, s.timezone),
            when_in(s.last_run_at, s.timezone), s.backend, s.source, note)


_HEADERS = ["schedule", "flow", "status", "when", "next run", "last run", "backend", "source", "last error"]


def _echo(schedule: Any, as_json: bool) -> None:
    if as_json:
        echo_json(schedule)
    else:
        echo_table([_row(schedule)], _HEADERS)


@main_group.group()
def schedules() -> None:
    """Cron schedules of flows and jobs (see docs/guides/schedules.md)."""


@schedules.command("list")
@database_option
@json_option
def list_command(database_url: str | None, as_json: bool) -> None:
    """Every schedule with its status, next run time and what it means in words."""
    with client_for(database_url) as client:
        found = client.list_schedules()
    if as_json:
        echo_json(found)
        return
    echo_table([_row(s) for s in found], _HEADERS)
    orphans = [s.slug for s in found if s.status == "orphaned"]
    if orphans:
        click.echo(f"\norphaned (no longer declared in code, paused): {', '.join(orphans)}; "
                   f"remove with `pgflow schedules remove SLUG` or keep with `pgflow schedules resume SLUG`")


@schedules.command("add")
@click.argument("flow_slug")
@click.argument("expression")
@click.option("--input", "input_text", default=None, metavar="JSON", help="Input of every run (default {}).")
@click.option("--timezone", default=None, help="IANA time zone, e.g. Europe/Berlin (default UTC).")
@click.option("--slug", default=None, help="Name of the schedule (default: the flow's slug).")
@click.option("--catch-up", type=click.Choice(["one", "all", "none"]), default=None,
              help="Missed ticks: one run for all of them (default), one run each, or none.")
@click.option("--backend", type=click.Choice(["builtin", "pg_cron", "auto"]), default="builtin", show_default=True)
@database_option
@json_option
def add_command(flow_slug: str, expression: str, input_text: str | None, timezone: str | None, slug: str | None,
                catch_up: str | None, backend: str, database_url: str | None, as_json: bool) -> None:
    """Run FLOW_SLUG on the cron EXPRESSION ("0 9 * * *", "@hourly"); replaces a schedule of that name."""
    with client_for(database_url) as client:
        created = client.schedule(flow_slug, expression, parse_json_option(input_text), timezone,
                                  slug=slug, catch_up=catch_up, backend=backend)
    _echo(created, as_json)


@schedules.command("pause")
@click.argument("slug")
@database_option
@json_option
def pause_command(slug: str, database_url: str | None, as_json: bool) -> None:
    """Start no runs until resumed (every worker sees it)."""
    with client_for(database_url) as client:
        _echo(client.pause_schedule(slug), as_json)


@schedules.command("resume")
@click.argument("slug")
@database_option
@json_option
def resume_command(slug: str, database_url: str | None, as_json: bool) -> None:
    """Start runs again from the next tick on (paused ticks are not caught up)."""
    with client_for(database_url) as client:
        _echo(client.resume_schedule(slug), as_json)


@schedules.command("run-now")
@click.argument("slug")
@database_option
@json_option
def run_now_command(slug: str, database_url: str | None, as_json: bool) -> None:
    """Start one run of the schedule now; its timetable is unchanged."""
    with client_for(database_url) as client:
        run_id = client.run_schedule_now(slug)
    if as_json:
        echo_json({"run_id": run_id, "schedule": slug})
    else:
        click.echo(f"started run {run_id} of schedule {slug}")


@schedules.command("remove")
@click.argument("slug")
@database_option
def remove_command(slug: str, database_url: str | None) -> None:
    """Delete a schedule (and its pg_cron job); its runs stay."""
    with client_for(database_url) as client:
        client.unschedule(slug)
    click.echo(f"removed schedule {slug}")


@schedules.command("backend")
@click.argument("slug")
@click.argument("backend", type=click.Choice(["builtin", "pg_cron"]))
@database_option
@json_option
def backend_command(slug: str, backend: str, database_url: str | None, as_json: bool) -> None:
    """Move a schedule to the built-in scheduler or to pg_cron."""
    with client_for(database_url) as client:
        _echo(client.set_schedule_backend(slug, backend), as_json)


@schedules.command("history")
@click.argument("slug")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@database_option
@json_option
def history_command(slug: str, limit: int, database_url: str | None, as_json: bool) -> None:
    """The runs the schedule started, newest tick first."""
    with client_for(database_url) as client:
        client.get_schedule(slug)  # an unknown slug is an error, not an empty list
        found = client.schedule_history(slug, limit)
    if as_json:
        echo_json(found)
        return
    echo_table(
        [(h["tick_at"] and when_zoned(h["tick_at"]), h["trigger"], h["run_id"], h["status"],
          when_zoned(h["catch_up_from"]) if h["catch_up_from"] else "") for h in found],
        ["tick", "trigger", "run id", "status", "catching up from"],
    )
