"""``pgflow runs resume RUN_ID... [--force]`` or ``pgflow runs resume --flow ... [--dry-run]
[--yes]``: resume each failed (or cancelled) run as a new run that reuses what the original
completed.

Exit codes a script can use, by RUN_ID: 0 when every run was resumed; 3 when some run could not
be resumed (still going, completed, or its flow changed and --force was not given) and every
other was resumed; 1 when some run was not found (or another error happened). The runs that
could be resumed are resumed in every case. By filters: as :mod:`pgflow.cli.bulk` says.
"""

from __future__ import annotations

from typing import Any, NoReturn

import click

from pgflow.cli.bulk import bulk_options
from pgflow.cli.common import database_option, json_option
from pgflow.cli.rerun import rerun_or_bulk
from pgflow.cli.runs import runs


@runs.command("resume")
@click.argument("run_ids", nargs=-1, metavar="[RUN_ID]...")
@click.option("--force", is_flag=True, help="Resume even if the flow's steps changed since the run.")
@click.option("--again", is_flag=True, help="With filters: also resume runs that were retried or resumed before.")
@bulk_options
@database_option
@json_option
def resume_command(run_ids: tuple[str, ...], force: bool, again: bool, database_url: str | None, as_json: bool,
                   **options: Any) -> NoReturn:
    """Resume each failed or cancelled run: a new run of the same flow with the same input, whose
    `retry_of` names the original, that reuses the output of every task the original completed
    and queues only the rest. Prints `ORIGINAL  NEW` per run (--json: a list of
    {"run_id", "resume_run_id"}). RUN_ID may be the whole id or a unique start or end of it.

    Or, instead of RUN_IDs, resume every failed run the filters match (--flow, --since, ..., as
    `runs list` takes them) that was not retried or resumed before (--again: those too): the
    count is shown and confirmed first (--yes skips the prompt, --dry-run only lists them).

    Exit status: 0 when every run was resumed; 3 when some run could not be resumed (still
    going, completed, or a changed flow without --force) and the others were resumed; 1 when
    some run was not found or another error happened (named on stderr; the others are still
    resumed). By filters: 0 done, 3 some run left, 4 no run matched, 1 not confirmed or an error."""
    rerun_or_bulk(
        "resume", run_ids, options, database_url, as_json,
        lambda client, run_id: client.resume_run(run_id, force=force), "resume_run_id",
        lambda client, **kwargs: client.resume_runs(**kwargs, force=force, again=again),
    )
