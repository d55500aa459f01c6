"""Items that the event hub delivers besides the database's own events.

``RunFinished`` follows every ``run:completed`` / ``run:failed`` event: one item that says how a
run ended and which steps failed, for views that only care about outcomes. ``Gap`` says that
events may have been missed (the LISTEN connection was lost, or a subscriber fell too far
behind): whoever keeps state must reload it from the database before trusting it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Union

from pgflow.events import Event, RunCompletedEvent, RunFailedEvent
from pgflow.models import RunStatus, StepStatus


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class RunFinished(Event):
    """A run reached a terminal status: ``outcome`` is ``"completed"`` or ``"failed"``.

    ``failed_steps`` names the steps that failed (empty for a completed run). The hub derives
    it from ``run:failed``'s ``failed_step_slug``; a :class:`~pgflow.live.LiveRun` fills it
    from the final step states.
    """

    event_type: ClassVar[str] = "run:finished"
    outcome: RunStatus = RunStatus.COMPLETED
    failed_steps: tuple[str, ...] = ()
    output: Any = None
    error_message: str | None = None
    at: datetime | None = None

    @property
    def status(self) -> str | None:
        return self.outcome

    @classmethod
    def from_event(cls, event: RunCompletedEvent | RunFailedEvent,
                   failed_steps: tuple[str, ...] | None = None) -> RunFinished:
        """The finish marker for a ``run:completed`` or ``run:failed`` event."""
        if isinstance(event, RunFailedEvent):
            outcome, output, error = RunStatus.FAILED, None, event.error_message
            if failed_steps is None:
                failed_steps = (event.failed_step_slug,) if event.failed_step_slug else ()
        else:
            outcome, output, error = RunStatus.COMPLETED, event.output, None
        failed_steps = tuple(failed_steps or ())
        raw = {
            "event_type": cls.event_type,
            "run_id": str(event.run_id),
            "flow_slug": event.flow_slug,
            "outcome": outcome,
            "failed_steps": list(failed_steps),
            "output": output,
            "error_message": error,
            "finished_at": _iso(event.at),
            "ts": _iso(event.ts),
        }
        return cls(
            run_id=event.run_id,
            flow_slug=event.flow_slug,
            ts=event.ts,
            truncated=event.truncated,
            raw=raw,
            outcome=outcome,
            failed_steps=failed_steps,
            output=output,
            error_message=error,
            at=event.at,
        )

    @classmethod
    def from_run(cls, run: Any) -> RunFinished:
        """The finish marker of a finished :class:`~pgflow.models.Run` read with its step states."""
        failed = [s for s in run.step_states if s.status == StepStatus.FAILED]
        at = run.completed_at or run.failed_at
        error = failed[0].error_message if failed else None
        raw = {
            "event_type": cls.event_type,
            "run_id": str(run.run_id),
            "flow_slug": run.flow_slug,
            "outcome": run.status,
            "failed_steps": [s.step_slug for s in failed],
            "output": run.output,
            "error_message": error,
            "finished_at": _iso(at),
            "ts": _iso(at),
        }
        return cls(run_id=run.run_id, flow_slug=run.flow_slug, ts=at, raw=raw, outcome=run.status,
                   failed_steps=tuple(s.step_slug for s in failed), output=run.output,
                   error_message=error, at=at)


@dataclass(frozen=True)
class Gap:
    """Events may have been missed; reload state from the database (``get_run_with_states``).

    ``reason`` is ``"reconnected"`` (the hub's LISTEN connection was lost between ``since`` and
    ``resumed_at``; it listens again) or ``"overflow"`` (this subscriber's queue filled up and
    its queued items were dropped).
    """

    event_type: ClassVar[str] = "gap"
    reason: str
    since: datetime | None = None
    resumed_at: datetime | None = None

    @property
    def raw(self) -> dict[str, Any]:
        return {
            "event_type": self.event_type,
            "reason": self.reason,
            "since": _iso(self.since),
            "resumed_at": _iso(self.resumed_at),
        }


Item = Union[Event, Gap]
"""What a subscription delivers: a typed database event, a :class:`RunFinished`, or a :class:`Gap`."""

__all__ = ["Gap", "Item", "RunFinished"]
