"""``pgflow runs cancel RUN_ID...``: end runs that are still going.

Exit codes a script can use: 0 when every run was cancelled or was already over; 1 when some run
was not found (or another error happened; the others are still cancelled), each such run named
on stderr.
"""

from __future__ import annotations

import click

from pgflow.cli.common import client_for, database_option, echo_error, echo_json, json_option
from pgflow.cli.runs import runs
from pgflow.cli.watch import styled_status
from pgflow.errors import PgFlowError


@runs.command("cancel")
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN_ID...")
@click.option("--reason", default=None, help="Why: stored with the run and shown by `runs show`.")
@database_option
@json_option
def cancel_command(run_ids: tuple[str, ...], reason: str | None, database_url: str | None, as_json: bool) -> None:
    """Cancel runs that are still going: each ends at once (status failed, recorded as cancelled),
    its unfinished tasks are cancelled and running handlers are stopped. A run already over is
    left as it is. RUN_ID may be the whole id or a unique start or end of it.

    Exit status: 0 when each run was cancelled or already over, 1 when some run was not found
    or could not be cancelled (named on stderr; the others are still cancelled)."""
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
