"""Resume: a new run of a failed (or cancelled) run that reuses what the original completed."""

from __future__ import annotations

from uuid import UUID

from pgflow import telemetry
from pgflow.db import Operation, Query
from pgflow.ops.common import run_uuid
from pgflow.types import RunId


def resume_run(run_id: RunId, force: bool = False) -> Operation[UUID]:
    """Start a new run of the failed run ``run_id`` that reuses the output of every step it
    completed (and of every completed item of a map step it left unfinished) and queues only what
    is missing: failed, cancelled or never-started tasks and everything downstream of them.
    Returns the new run's id; the new run's ``retry_of`` names the original, which is left as it
    is. A cancelled run is a failed run and can be resumed too.

    RunNotFound for an unknown run; RunStateError for a run that is still going or completed, or
    when the flow's steps changed since the original ran (``force=True`` resumes anyway, reusing
    the steps that are still there), with nothing changed.
    """
    original = run_uuid(run_id)
    row = yield Query.one("client_resume_run", run_id=original, force=bool(force)).and_commit()
    new_run_id: UUID = row["run_id"]
    telemetry.execute("run.resume", {}, {"run_id": original, "new_run_id": new_run_id, "force": bool(force)})
    return new_run_id
