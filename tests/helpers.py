"""Small helpers shared by the tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")


def eventually(check: Callable[[], T], timeout: float = 10.0, interval: float = 0.02, message: str = "") -> T:
    """Call ``check`` until it returns a truthy value (returned) or raises no AssertionError.

    Fails with the last value or assertion after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = check()
            if last:
                return last
        except AssertionError as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {message or check}; last: {last!r}")
        time.sleep(interval)


async def eventually_async(check: Callable[[], Awaitable[T]], timeout: float = 10.0, interval: float = 0.02,
                           message: str = "") -> T:
    """The async twin of :func:`eventually` for checks that must be awaited."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = await check()
            if last:
                return last
        except AssertionError as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {message or check}; last: {last!r}")
        await asyncio.sleep(interval)


def iso(text: str) -> datetime:
    """``datetime.fromisoformat`` that reads PostgreSQL's short fractions (``10:00:00.5``) on
    Python 3.10 too (pgflow.events parses event times the same way)."""
    from pgflow.events import _ts

    value: datetime = _ts(text)
    return value
