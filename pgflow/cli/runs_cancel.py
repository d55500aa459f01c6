"""``pgflow runs cancel RUN_ID...`` or ``pgflow runs cancel --flow ... [--dry-run] [--yes]``: end
runs that are still going.

Exit codes a script can use, by RUN_ID: 0 when every run was cancelled or was already over; 1
when some run was not found (or another error happened; the others are still cancelled), each
such run named on stderr. By filters: as :mod:`pgflow.cli.bulk` says (0 done, 3 some left, 4
nothing matched, 1 refused or an error).
"""

from __future__ import annotations

from typing import Any

import click

from pgflow.cli.bulk import bulk, bulk_options, given_filters
from pgflow.cli.common import client_for, database_option, echo_error, echo_json, json_option
from pgflow.cli.runs import runs
from pgflow.cli.watch import styled_status
from pgflow.errors import PgFlowError


@runs.command("cancel")
@click.argument("run_ids", nargs=-1, metavar="[RUN_ID]...")
@click.option("--reason", default=None, help="Why: stored with the run and shown by `runs show`.")
@bulk_options
@database_option
@json_option
def cancel_command(run_ids: tuple[str, ...], reason: str | None, database_url: str | None, as_json: bool,
                   **options: Any) -> None:
    """Cancel runs that are still going: each ends at once (status failed, recorded as cancelled),
    its unfinished tasks are cancelled and running handlers are stopped. A run already over is
    left as it is. RUN_ID may be the whole id or a unique start or end of it.

    Or, instead of RUN_IDs, cancel every running run the filters match (--flow, --since, ...,
    as `runs list` takes them): the count is shown and confirmed first (--yes skips the prompt,
    --dry-run only lists them).

    Exit status by RUN_ID: 0 when each run was cancelled or already over, 1 when some run was
    not found or could not be cancelled (named on stderr; the others are still cancelled). By
    filters: 0 done, 3 some run ended meanwhile, 4 no run matched, 1 not confirmed or an error."""
    filters = given_filters(options)
    if run_ids and filters:
        raise click.UsageError("give RUN_IDs or filters (--flow, --status, --since, --until, --input-match), "
                               "not both")
    if not run_ids:
        if filters is None:
            raise click.UsageError("give the RUN_IDs to cancel, or filters that choose them (--flow, --status, "
                                   "--since, --until, --input-match)")
        bulk("cancel", options, database_url, as_json,
             lambda client, **kwargs: client.cancel_runs(**kwargs, reason=reason))
    results, failed = [], False
    with client_for(database_url) as client:
        for given in run_ids:
            try:
                result = client.cancel_run(client.find_run_id(given), reason=reason)
            except PgFlowError as exc:
                failed = True
                echo_error(f"{given}: {exc}")
                continue
            results.append(result)
            if not as_json:
                what = styled_status("cancelled") if result.cancelled else f"already over ({result.status.value})"
                click.echo(f"{result.run_id}  {what}")
    if as_json:
        echo_json(results)
    raise SystemExit(1 if failed else 0)
