"""What ``pgflow runs retry`` and ``pgflow runs resume`` share: start each run again, one by one.

Exit codes a script can use: 0 when every run was started again; 3 when some run could not be
(still going, completed, or for resume a changed flow without --force) and every other was; 1
when some run was not found (or another error happened). The runs that can be started again
are, in every case.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn
from uuid import UUID

import click

from pgflow.cli.bulk import bulk, given_filters
from pgflow.cli.common import client_for, echo_error, echo_json
from pgflow.client import Client
from pgflow.errors import PgFlowError, RunStateError

NOT_AGAIN = 3  # some run could not be started again (RunStateError); the others were


def rerun_or_bulk(action: str, run_ids: tuple[str, ...], options: dict[str, Any], database_url: str | None,
                  as_json: bool, start_again: Callable[[Client, UUID], UUID], key: str,
                  bulk_act: Callable[..., Any]) -> NoReturn:
    """``rerun`` the RUN_IDs given, or the bulk action on the runs the filter options match."""
    filters = given_filters(options)
    if run_ids and filters:
        raise click.UsageError("give RUN_IDs or filters (--flow, --status, --since, --until, --input-match), "
                               "not both")
    if run_ids:
        rerun(run_ids, database_url, as_json, start_again, key)
    if filters is None:
        raise click.UsageError(f"give the RUN_IDs to {action}, or filters that choose them (--flow, --status, "
                               f"--since, --until, --input-match)")
    bulk(action, options, database_url, as_json, bulk_act)


def rerun(run_ids: tuple[str, ...], database_url: str | None, as_json: bool,
          start_again: Callable[[Client, UUID], UUID], key: str) -> NoReturn:
    """For each run (a whole id or a unique start or end of one), ``start_again`` it; print
    ``ORIGINAL  NEW`` per run (--json: a list of {"run_id", ``key``}); exit as the module says."""
    started: list[dict[str, str]] = []
    code = 0
    with client_for(database_url) as client:
        for given in run_ids:
            try:
                original = client.find_run_id(given)
                new_run_id = start_again(client, original)
            except PgFlowError as exc:
                code = 1 if code == 1 or not isinstance(exc, RunStateError) else NOT_AGAIN
                echo_error(f"{given}: {exc}")
                continue
            started.append({"run_id": str(original), key: str(new_run_id)})
            if not as_json:
                click.echo(f"{original}  {new_run_id}")
    if as_json:
        echo_json(started)
    raise SystemExit(code)
