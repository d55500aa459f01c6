"""``pgflow runs retry RUN_ID...`` or ``pgflow runs retry --flow ... [--dry-run] [--yes]``: start
each failed (or cancelled) run again as a new run.

Exit codes a script can use, by RUN_ID: 0 when every run was retried; 3 when some run had
nothing to retry (still going, or completed) and every other was retried; 1 when some run was
not found (or another error happened). The runs that could be retried are retried in every case.
By filters: as :mod:`pgflow.cli.bulk` says (0 done, 3 some left, 4 nothing matched, 1 refused).
"""

from __future__ import annotations

from typing import Any, NoReturn

import click

from pgflow.cli.bulk import bulk_options
from pgflow.cli.common import database_option, json_option
from pgflow.cli.rerun import rerun_or_bulk
from pgflow.cli.runs import runs


@runs.command("retry")
@click.argument("run_ids", nargs=-1, metavar="[RUN_ID]...")
@click.option("--again", is_flag=True, help="With filters: also retry runs that were retried or resumed before.")
@bulk_options
@database_option
@json_option
def retry_command(run_ids: tuple[str, ...], again: bool, database_url: str | None, as_json: bool,
                  **options: Any) -> NoReturn:
    """Start each failed or cancelled run again: a new run of the same flow with the same input,
    whose `retry_of` names the original. Prints `ORIGINAL  NEW` per run (--json: a list of
    {"run_id", "retry_run_id"}). RUN_ID may be the whole id or a unique start or end of it.

    Or, instead of RUN_IDs, retry every failed run the filters match (--flow, --since, ..., as
    `runs list` takes them) that was not retried or resumed before (--again: those too): the
    count is shown and confirmed first (--yes skips the prompt, --dry-run only lists them).

    Exit status: 0 when every run was retried; 3 when some run had nothing to retry (still
    going, or completed) and the others were retried; 1 when some run was not found or another
    error happened (named on stderr; the others are still retried). By filters: 0 done, 3 some
    run left, 4 no run matched, 1 not confirmed or an error."""
    rerun_or_bulk(
        "retry", run_ids, options, database_url, as_json,
        lambda client, run_id: client.retry_run(run_id), "retry_run_id",
        lambda client, **kwargs: client.retry_runs(**kwargs, again=again),
    )
