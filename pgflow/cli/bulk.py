"""What the CLI's run filters and bulk actions share: the filter options of ``pgflow runs list``
and of ``runs cancel|retry|resume`` (one set of names), and the bulk action itself: count, confirm
(``--yes`` skips the prompt; without a terminal and without ``--yes`` the command refuses), act.

Exit codes of a bulk action a script can use: 0 every matched run was acted on (or listed, with
``--dry-run``); 3 some matched run was left as it was (ended meanwhile, a changed flow); 4 no run
matched the filters, nothing to do; 1 refused (no confirmation) or an error, nothing changed; 2 a
usage error (RUN_IDs and filters together, or neither).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, NoReturn

import click

from pgflow.cli.common import DURATION, client_for, echo_error, echo_json, fail, parse_duration, parse_json_option
from pgflow.models import BulkResult, RunStatus
from pgflow.ops.runs import RUN_STATUS_ALIASES

LEFT = 3  # some matched run was left as it was
NOTHING = 4  # no run matched the filters
FILTERS = ("flow_slug", "status", "since", "until", "input_match")
_PAST = {"cancel": "cancelled", "retry": "retried", "resume": "resumed"}


def filter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--flow, --status, --since, --until, --input-match (the same on every command that filters runs)."""
    for option in reversed((
        click.option("--flow", "flow_slug", default=None, metavar="SLUG", help="Only runs of this flow or job."),
        click.option("--status", type=click.Choice([*(s.value for s in RunStatus), *RUN_STATUS_ALIASES]),
                     default=None, help="Only runs in this status (running is another word for started)."),
        click.option("--since", default=None, metavar="WHEN",
                     help="Only runs started at or after WHEN: a duration ago (15m, 24h, 7d) or an ISO time "
                          "with a time zone (2030-01-01T09:00:00Z)."),
        click.option("--until", default=None, metavar="WHEN", help="Only runs started before WHEN (as --since)."),
        click.option("--input-match", "input_match", default=None, metavar="JSON",
                     help='Only runs whose input contains this JSON, e.g. \'{"customer": 7}\'.'),
    )):
        command = option(command)
    return command


def _moment(text: str | None, option: str) -> datetime | timedelta | None:
    if text is None:
        return None
    if DURATION.match(text):
        return parse_duration(text, option, "s")
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        fail(f"{option} {text!r} is neither a duration (15m, 24h, 7d) nor an ISO time (2030-01-01T09:00:00Z)")
    if moment.tzinfo is None:
        fail(f"{option} {text!r} has no time zone; add one, e.g. {text.strip()}Z or {text.strip()}+01:00")
    return moment


def filter_kwargs(flow_slug: str | None, status: str | None, since: str | None, until: str | None,
                  input_match: str | None) -> dict[str, Any]:
    """The options as the client's filter arguments (list_runs, cancel_runs, ...)."""
    return {"flow": flow_slug, "status": status, "since": _moment(since, "--since"),
            "until": _moment(until, "--until"), "input_match": parse_json_option(input_match, "--input-match")}


def bulk_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The filters, plus --dry-run, --yes and --limit, of ``runs cancel|retry|resume``."""
    command = click.option("--limit", type=click.IntRange(min=1), default=None,
                           help="With filters: act on at most this many runs (newest first).")(command)
    command = click.option("--yes", "-y", is_flag=True, help="With filters: do not ask for confirmation.")(command)
    command = click.option("--dry-run", is_flag=True,
                           help="With filters: list the runs that would be acted on, change nothing.")(command)
    return filter_options(command)


def given_filters(options: dict[str, Any]) -> dict[str, Any] | None:
    """The filter options given (None when none is)."""
    given = {name: options[name] for name in FILTERS if options.get(name) is not None}
    return given or None


def bulk(action: str, options: dict[str, Any], database_url: str | None, as_json: bool,
         act: Callable[..., BulkResult]) -> NoReturn:
    """Count the runs the filters match, confirm, then ``act(client, **kwargs)``; exit as the module says."""
    kwargs = filter_kwargs(*(options.get(name) for name in FILTERS))
    limit, verb = options.get("limit"), action.capitalize()
    with client_for(database_url) as client:
        if kwargs["flow"] is not None:
            client.get_flow(kwargs["flow"])  # an unknown slug is an error, not "nothing to do"
        preview = act(client, **kwargs, dry_run=True, limit=limit)
        if preview.nothing_to_do:
            _report(preview, as_json)
            click.echo(f"nothing to {action}: no run matches the filters", err=True)
            raise SystemExit(NOTHING)
        if options.get("dry_run"):
            _report(preview, as_json)
            click.echo(f"{preview.count} run{'s' * (preview.count != 1)} would be {_PAST[action]} (dry run: "
                       f"nothing changed)", err=True)
            raise SystemExit(0)
        if not options.get("yes"):
            if not sys.stdin.isatty():
                fail(f"refusing to {action} {preview.count} runs without confirmation: stdin is not a terminal; "
                     f"add --yes to {action} them, or --dry-run to list them")
            if not click.confirm(f"{verb} {preview.count} run{'s' * (preview.count != 1)}?", err=True):
                fail("not confirmed: nothing changed")
        # at most the runs confirmed: a run started since the count may take the place of one that ended
        result = act(client, **kwargs, dry_run=False, limit=preview.count)
    _report(result, as_json)
    for run_id, why in result.not_done:
        echo_error(f"{run_id}: {why}")
    click.echo(f"{_PAST[action]} {result.count} run{'s' * (result.count != 1)}"
               + (f"; {len(result.not_done)} left as they were" if result.not_done else ""), err=True)
    raise SystemExit(LEFT if result.not_done else 0)


def _report(result: BulkResult, as_json: bool) -> None:
    if as_json:
        echo_json(result)
    elif result.new_run_ids:
        for original, new in zip(result.run_ids, result.new_run_ids):
            click.echo(f"{original}  {new}")
    else:
        for run_id in result.run_ids:
            click.echo(str(run_id))
