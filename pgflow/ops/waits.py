"""Signals for waiting steps: ``signal`` (by run id) and ``signal_by_key`` (by the key a run was
started with). Sleeps and subflows need no call: the database ends them (``wake_due_steps``, the
child run's end)."""

from __future__ import annotations

from typing import Any

from pgflow.db import Operation, Query
from pgflow.errors import InvalidInput
from pgflow.models import SignalResult
from pgflow.ops.common import json_text, run_uuid, slug_of
from pgflow.types import FlowRef, Json, RunId


def signal(run_id: RunId, step: str, payload: Json = None) -> Operation[SignalResult]:
    """Send ``payload`` to the signal step ``step`` of a run: a waiting step completes with it as
    its output (its dependents start); a step that does not wait yet gets it when it does (unless
    it was defined with ``early_signals="reject"``: RunStateError). The first signal of a step wins:
    a later one changes nothing and comes back with ``outcome == "duplicate"``.

    RunNotFound for an unknown run; InvalidInput for a step that is not a signal step of the run's
    flow or a payload that is not JSON; RunStateError when the run is over or the step no longer
    waits (it timed out or was skipped)."""
    row = yield Query.one("client_signal", run_id=run_uuid(run_id), step_slug=_step(step),
                          payload=json_text(payload, "signal payload")).and_commit()
    return _result(row)


def signal_by_key(flow: FlowRef, key: str, step: str, payload: Json = None) -> Operation[SignalResult]:
    """:func:`signal` for the run of ``flow`` started with ``signal_key=key`` (e.g. an order id, for
    a webhook that knows its own id but not the run's). The run still going takes it; when none
    is, the latest run with that key. RunNotFound when no run has the key; RunStateError when
    several runs still going share it."""
    if not isinstance(key, str) or not key:
        raise InvalidInput(f"the signal key must be a non-empty string, got {key!r}")
    row = yield Query.one("client_signal_by_key", flow_slug=slug_of(flow), signal_key=key, step_slug=_step(step),
                          payload=json_text(payload, "signal payload")).and_commit()
    return _result(row)


def check_signal_key(key: Any) -> str | None:
    """A run's signal key as ``start_flow(signal_key=...)`` takes it (1-200 characters)."""
    if key is None:
        return None
    if not isinstance(key, str) or not 1 <= len(key) <= 200:
        raise InvalidInput(f"signal_key must be a string of 1 to 200 characters, got {key!r}")
    return key


def _step(step: Any) -> str:
    slug = getattr(step, "slug", step)  # a StepDefinition, or its slug
    if not isinstance(slug, str) or not slug:
        raise InvalidInput(f"name the signal step by its slug, got {step!r}")
    return slug


def _result(row: dict[str, Any] | None) -> SignalResult:
    assert row is not None  # pgflow.signal answers or raises
    return SignalResult(run_id=row["run_id"], step_slug=row["step_slug"], outcome=row["outcome"],
                        received_at=row["received_at"])
