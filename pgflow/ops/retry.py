"""Retry: a new run of a failed (or cancelled) run's flow with the same input, linked to it."""

from __future__ import annotations

from uuid import UUID

from pgflow import telemetry
from pgflow.db import Operation, Query
from pgflow.ops.common import run_uuid
from pgflow.types import RunId


def retry_run(run_id: RunId) -> Operation[UUID]:
    """Start a new run of the same flow with the same input as the failed run ``run_id``; returns
    the new run's id. The new run's ``retry_of`` names the original, which is left as it is;
    each call starts one more run. A cancelled run is a failed run and can be retried too.

    RunNotFound for an unknown run; RunStateError ("nothing to retry: run ... is completed") for a
    run that is still going or completed, with nothing changed; InvalidInput when the input no
    longer fits the flow's definition.
    """
    original = run_uuid(run_id)
    row = yield Query.one("client_retry_run", run_id=original).and_commit()
    new_run_id: UUID = row["run_id"]
    telemetry.execute("run.retry", {}, {"run_id": original, "new_run_id": new_run_id})
    return new_run_id
