"""``pgflow runs resume RUN_ID... [--force]``: resume each failed (or cancelled) run as a new run
that reuses what the original completed.

Exit codes a script can use: 0 when every run was resumed; 3 when some run could not be resumed
(still going, completed, or its flow changed and --force was not given) and every other was
resumed; 1 when some run was not found (or another error happened). The runs that could be
resumed are resumed in every case.
"""

from __future__ import annotations

from typing import NoReturn

import click

from pgflow.cli.common import database_option, json_option
from pgflow.cli.rerun import rerun
from pgflow.cli.runs import runs


@runs.command("resume")
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN_ID...")
@click.option("--force", is_flag=True, help="Resume even if the flow's steps changed since the run.")
@database_option
@json_option
def resume_command(run_ids: tuple[str, ...], force: bool, database_url: str | None, as_json: bool) -> NoReturn:
    """Resume each failed or cancelled run: a new run of the same flow with the same input, whose
    `retry_of` names the original, that reuses the output of every task the original completed
    and queues only the rest. Prints `ORIGINAL  NEW` per run (--json: a list of
    {"run_id", "resume_run_id"}). RUN_ID may be the whole id or a unique start or end of it.

    Exit status: 0 when every run was resumed; 3 when some run could not be resumed (still
    going, completed, or a changed flow without --force) and the others were resumed; 1 when
    some run was not found or another error happened (named on stderr; the others are still
    resumed)."""
    rerun(run_ids, database_url, as_json, lambda client, run_id: client.resume_run(run_id, force=force), "resume_run_id")
