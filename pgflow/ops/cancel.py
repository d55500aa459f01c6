"""Cancelling runs: ``cancel_run``."""

from __future__ import annotations

from pgflow import telemetry
from pgflow.db import Operation, Query
from pgflow.errors import InvalidInput, RunNotFound
from pgflow.models import CancelResult, RunStatus
from pgflow.ops.common import run_uuid
from pgflow.types import RunId


def cancel_run(run_id: RunId, reason: str | None = None) -> Operation[CancelResult]:
    """Cancel a run that is still going: it ends at once as a failed run that records when and
    why it was cancelled (``Run.cancelled_at``, ``Run.cancel_reason``), its unfinished tasks are
    cancelled and their queue messages archived, and its steps not yet started never start.
    Workers running its tasks learn it and stop their handlers (``Worker(cancel_grace=...)``).

    Idempotent: for a run that is already over nothing changes and the result says so
    (``cancelled`` is False). RunNotFound for an unknown run.
    """
    run_id = run_uuid(run_id)
    if reason is not None and not isinstance(reason, str):
        raise InvalidInput(f"reason must be a string or None, got {type(reason).__name__}")
    row = yield Query.one("client_cancel_run", run_id=run_id, reason=reason).and_commit()
    if row is None:  # cancel_run always answers one row; PF002 is translated to RunNotFound
        raise RunNotFound(run_id)
    result = CancelResult(run_id=run_id, cancelled=bool(row["cancelled"]), status=RunStatus(row["status"]),
                          cancelled_at=row["cancelled_at"])
    telemetry.execute("run.cancel", {}, {"run_id": run_id, "cancelled": result.cancelled,
                                         "status": result.status.value, "reason": reason})
    return result
