"""run_inline's failures carry the handler's exception only: no unrelated chained error
("no running event loop", "During handling of the above exception ...")."""

from __future__ import annotations

import traceback

import pytest

import pgflow
from pgflow.testing import run_inline, run_inline_async

flow = pgflow.Flow("inline_errors", max_attempts=1)


@flow.step
def boom(input):
    raise ValueError("nope")


def check(failed: pgflow.RunFailed) -> None:
    shown = "".join(traceback.format_exception(failed))
    stored = failed.run.step("boom").error_message
    for text in (shown, stored):
        assert "no running event loop" not in text and "During handling of the above exception" not in text
    assert stored.startswith("ValueError: nope\nTraceback (most recent call last):\n")
    assert failed.__context__ is None or not isinstance(failed.__context__, RuntimeError)


def test_a_failed_run_inline_shows_only_the_handlers_error() -> None:
    with pytest.raises(pgflow.RunFailed) as failed:
        run_inline(flow, {})
    check(failed.value)


async def test_a_failed_run_inline_async_shows_only_the_handlers_error() -> None:
    with pytest.raises(pgflow.RunFailed) as failed:
        await run_inline_async(flow, {})
    check(failed.value)


async def test_run_inline_called_from_a_running_loop_shows_only_the_handlers_error() -> None:
    with pytest.raises(pgflow.RunFailed) as failed:
        run_inline(flow, {})  # sync helper inside a test's event loop (it runs in a thread)
    check(failed.value)
