"""Step an operation (a generator of :mod:`pgflow.ops`) by hand, without a database.

``play(op, reply1, reply2, ...)`` sends each reply in turn as the result of the step the
operation yielded, and returns the steps it yielded and its result::

    steps, run_id = play(run_ops.start_flow("orders", {"n": 1}), {"run_id": RUN_ID})

An operation that asks for more steps than there are replies fails the test, naming the step.
Exceptions the operation raises come out of ``play`` as they are.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pgflow.db import ClientOperation, Query

T = TypeVar("T")


def play(op: ClientOperation[T], *replies: Any) -> tuple[list[Any], T]:
    steps: list[Any] = []
    try:
        step = next(op)
        while True:
            steps.append(step)
            if len(steps) > len(replies):
                raise AssertionError(f"the operation asked for step {len(steps)} without a reply: {step!r}")
            step = op.send(replies[len(steps) - 1])
    except StopIteration as stop:
        assert len(steps) == len(replies), f"{len(replies) - len(steps)} replies left over; steps: {steps!r}"
        return steps, stop.value


def first(op: ClientOperation[Any]) -> Any:
    """The first step of an operation (its checks of the arguments ran before it)."""
    return next(op)


def query(step: Any, name: str, fetch: str | None = None, *, commits: bool = False) -> dict[str, Any]:
    """Assert that ``step`` is the named query (fetching ``fetch``, committing or not); its params."""
    assert isinstance(step, Query), step
    assert (step.sql, step.commits) == (name, commits), step
    if fetch is not None:
        assert step.fetch == fetch, step
    assert isinstance(step.params, dict)
    return step.params


def json_of(text: str) -> Any:
    return json.loads(text)
