"""ctx.cancelled / ctx.raise_if_cancelled(), and Worker(cancel_grace=...)'s range."""

from __future__ import annotations

import uuid

import pytest

import pgflow
from pgflow.errors import TaskCancelled


def test_ctx_cancelled_turns_true_and_raise_if_cancelled_raises_task_cancelled() -> None:
    ctx = pgflow.Context(run_id=uuid.uuid4(), flow_slug="f", step_slug="s", task_index=2)
    assert not ctx.cancelled
    ctx.raise_if_cancelled()  # nothing yet
    ctx._cancelled.set()  # what the worker does once it learns of the cancel
    assert ctx.cancelled
    with pytest.raises(TaskCancelled, match=r"was cancelled; task s\[2\]") as raised:
        ctx.raise_if_cancelled()
    assert isinstance(raised.value, pgflow.PgFlowError)


def test_cancel_grace_is_seconds_zero_or_more() -> None:
    job = pgflow.Job("j")

    @job.perform
    def handler(input):
        return None

    assert pgflow.Worker("postgresql://localhost/x", [job], cancel_grace=0).config.cancel_grace == 0
    with pytest.raises(pgflow.ConfigurationError, match="cancel_grace"):
        pgflow.Worker("postgresql://localhost/x", [job], cancel_grace=-1)
