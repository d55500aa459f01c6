"""``pgflow runs resume RUN_ID... [--force]``: resume each failed (or cancelled) run as a new run
that reuses what the original completed.

Exit codes a script can use: 0 when every run was resumed; 3 when some run could not be resumed
(still going, completed, or its flow changed and --force was not given) and every other was
resumed; 1 when some run was not found (or another error happened). The runs that could be
resumed are resumed in every case.
"""

from __future__ import annotations

import click

from pgflow.cli.common import client_for, database_option, echo_json, json_option
from pgflow.cli.runs import runs
from pgflow.errors import PgFlowError, RunStateError
from pgflow.textsafe import printable

NOTHING_TO_RESUME = 3


@runs.command("resume")
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN_ID...")
@click.option("--force", is_flag=True, help="Resume even if the flow's steps changed since the run.")
@database_option
@json_option
def resume_command(run_ids: tuple[str, ...], force: bool, database_url: str | None, as_json: bool) -> None:
    """Resume each failed or cancelled run: a new run of the same flow with the same input, whose
    `retry_of` names the original, that reuses the output of every task the original completed
    and queues only the rest. Prints `ORIGINAL  NEW` per run (--json: a list of
    {"run_id", "resume_run_id"}). RUN_ID may be the whole id or a unique start or end of it.

    Exit status: 0 when every run was resumed; 3 when some run could not be resumed (still
    going, completed, or a changed flow without --force) and the others were resumed; 1 when
    some run was not found or another error happened (named on stderr; the others are still
    resumed)."""
    resumed: list[dict[str, str]] = []
    code = 0
    with client_for(database_url) as client:
        for given in run_ids:
            try:
                original = client.find_run_id(given)
                new_run_id = client.resume_run(original, force=force)
            except PgFlowError as exc:
                code = 1 if code == 1 or not isinstance(exc, RunStateError) else NOTHING_TO_RESUME
                click.echo(click.style("error:", fg="red", bold=True) + f" {printable(given)}: {printable(str(exc))}",
                           err=True)
                continue
            resumed.append({"run_id": str(original), "resume_run_id": str(new_run_id)})
            if not as_json:
                click.echo(f"{original}  {new_run_id}")
    if as_json:
        echo_json(resumed)
    raise SystemExit(code)
