"""``pgflow runs retry RUN_ID...``: start each failed (or cancelled) run again as a new run.

Exit codes a script can use: 0 when every run was retried; 3 when some run had nothing to retry
(still going, or completed) and every other was retried; 1 when some run was not found (or
another error happened). The runs that could be retried are retried in every case.
"""

from __future__ import annotations

from typing import NoReturn

import click

from pgflow.cli.common import database_option, json_option
from pgflow.cli.rerun import rerun
from pgflow.cli.runs import runs


@runs.command("retry")
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN_ID...")
@database_option
@json_option
def retry_command(run_ids: tuple[str, ...], database_url: str | None, as_json: bool) -> NoReturn:
    """Start each failed or cancelled run again: a new run of the same flow with the same input,
    whose `retry_of` names the original. Prints `ORIGINAL  NEW` per run (--json: a list of
    {"run_id", "retry_run_id"}). RUN_ID may be the whole id or a unique start or end of it.

    Exit status: 0 when every run was retried; 3 when some run had nothing to retry (still
    going, or completed) and the others were retried; 1 when some run was not found or another
    error happened (named on stderr; the others are still retried)."""
    rerun(run_ids, database_url, as_json, lambda client, run_id: client.retry_run(run_id), "retry_run_id")
