"""What ``pgflow runs retry`` and ``pgflow runs resume`` share: start each run again, one by one.

Exit codes a script can use: 0 when every run was started again; 3 when some run could not be
(still going, completed, or for resume a changed flow without --force) and every other was; 1
when some run was not found (or another error happened). The runs that can be started again
are, in every case.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn
from uuid import UUID

import click

from pgflow.cli.common import client_for, echo_error, echo_json
from pgflow.client import Client
from pgflow.errors import PgFlowError, RunStateError

NOT_AGAIN = 3  # some run could not be started again (RunStateError); the others were


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
