"""``pgflow runs retry RUN_ID...``: start each failed (or cancelled) run again as a new run.

Exit codes a script can use: 0 when every run was retried; 3 when some run had nothing to retry
(still going, or completed) and every other was retried; 1 when some run was not found (or
another error happened). The runs that could be retried are retried in every case.
"""

from __future__ import annotations

import click

from pgflow.cli.common import client_for, database_option, echo_json, json_option
from pgflow.cli.runs import runs
from pgflow.errors import PgFlowError, RunStateError
from pgflow.textsafe import printable

NOTHING_TO_RETRY = 3


@runs.command("retry")
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN_ID...")
@database_option
@json_option
def retry_command(run_ids: tuple[str, ...], database_url: str | None, as_json: bool) -> None:
    """Start each failed or cancelled run again: a new run of the same flow with the same input,
    whose `retry_of` names the original. Prints `ORIGINAL  NEW` per run (--json: a list of
    {"run_id", "retry_run_id"}). RUN_ID may be the whole id or a unique start or end of it.

    Exit status: 0 when every run was retried; 3 when some run had nothing to retry (still
    going, or completed) and the others were retried; 1 when some run was not found or another
    error happened (named on stderr; the others are still retried)."""
    retried: list[dict[str, str]] = []
    code = 0
    with client_for(database_url) as client:
        for given in run_ids:
            try:
                original = client.find_run_id(given)
                new_run_id = client.retry_run(original)
            except PgFlowError as exc:
                code = 1 if code == 1 or not isinstance(exc, RunStateError) else NOTHING_TO_RETRY
                click.echo(click.style("error:", fg="red", bold=True) + f" {printable(given)}: {printable(str(exc))}",
                           err=True)
                continue
            retried.append({"run_id": str(original), "retry_run_id": str(new_run_id)})
            if not as_json:
                click.echo(f"{original}  {new_run_id}")
    if as_json:
        echo_json(retried)
    raise SystemExit(code)
