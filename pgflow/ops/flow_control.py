"""Flow control: pause and resume a flow, change its limits, read them (docs/guides/flow-control.md).

The limits are enforced by the database at claim time (``pgflow._admit_claims``), whichever worker
claims; these operations only change what the claims read, so they apply from the next claim on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pgflow.db import Operation, Query
from pgflow.errors import FlowNotFound, InvalidInput
from pgflow.models import FlowControl
from pgflow.ops.common import json_text, slug_of
from pgflow.types import FlowRef


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


KEEP: Final = _Keep()  # set_limits: leave this limit as it is
MAX_PRIORITY: Final = 1000  # runs.priority's CHECK
MAX_KEY_LENGTH: Final = 200  # a concurrency key from a function (pgflow._run_concurrency_key caps path keys)


def get_flow_control(flow: FlowRef) -> Operation[FlowControl]:
    """The flow's limits, whether it is paused, and its running and queued tasks now.
    FlowNotFound for an unknown flow."""
    slug = slug_of(flow)
    row = yield Query.one("flow_control_state", flow_slug=slug)
    if row is None:
        raise FlowNotFound(slug)
    return FlowControl.from_row(row)


def set_limits(
    flow: FlowRef,
    *,
    max_running: int | None | _Keep = KEEP,
    rate_limit: tuple[int, float] | None | _Keep = KEEP,
    steps: Mapping[str, int | Mapping[str, Any] | None] | None = None,
    max_running_per_key: int | None | _Keep = KEEP,
    concurrency_key: str | None | _Keep = KEEP,
    rate_limit_per_key: tuple[int, float] | None | _Keep = KEEP,
) -> Operation[FlowControl]:
    """Change a flow's limits at runtime, from the next claim on, for every worker.

    ``max_running``: at most that many of the flow's tasks running at once; ``rate_limit``:
    ``(count, seconds)``, at most count task starts per that many seconds, smoothed (None removes
    a limit; left out, it stays). ``steps``: ``{step_slug: max_running}``, or ``{step_slug:
    {"max_running": n, "rate_limit": (count, seconds)}}`` (None removes that step's limits; steps
    and keys left out keep theirs). ``max_running_per_key``: at most that many tasks running at
    once per concurrency key; ``concurrency_key``: the path into the run input that gives a new
    run its key (a key, or keys joined by dots; runs already started keep theirs);
    ``rate_limit_per_key``: ``(count, seconds)``, at most count task starts per that many seconds
    per concurrency key. Lasts until the flow's code declares different limits (a
    deploy that changes ``max_running=`` / ``rate_limit=`` in code wins). InvalidInput for a
    limit below 1, a rate period of 0 or an unknown step, FlowNotFound for an unknown flow.
    """
    slug = slug_of(flow)
    limits: dict[str, Any] = _scope_limits(max_running, rate_limit, f"flow {slug!r}")
    if not isinstance(max_running_per_key, _Keep):
        limits["max_running_per_key"] = _limit(max_running_per_key, f"max_running_per_key of flow {slug!r}")
    if not isinstance(rate_limit_per_key, _Keep):
        limits["rate_limit_per_key"] = _rate(rate_limit_per_key, f"rate_limit_per_key of flow {slug!r}")
    if not isinstance(concurrency_key, _Keep):
        if concurrency_key is not None and not isinstance(concurrency_key, str):
            raise InvalidInput(f"concurrency_key of flow {slug!r} must be a path into the run input (a key, or keys "
                               f"joined by dots, e.g. 'customer_id') or None, got {concurrency_key!r}; a function "
                               f"key is declared in code: Flow(..., concurrency_key=function)")
        limits["concurrency_key"] = concurrency_key  # the database checks the path and names the flow
    if steps is not None:
        if not isinstance(steps, Mapping):
            raise InvalidInput(f"steps must map step slugs to a max_running, a dict of limits or None, "
                               f"got {type(steps).__name__}")
        limits["steps"] = {step: _step_limits(given, f"step {step!r} of flow {slug!r}") for step, given in steps.items()}
    yield Query.scalar("flow_control_set_limits", flow_slug=slug, limits=json_text(limits, "limits"))
    return (yield from _state_after(slug))


def pause_flow(flow: FlowRef, reason: str | None = None) -> Operation[FlowControl]:
    """Stop every worker (Python or TypeScript) claiming the flow's tasks, from the next claim on:
    running tasks finish, new runs can start and their tasks wait. Persisted; idempotent (a second
    pause keeps the first time and reason). FlowNotFound for an unknown flow."""
    slug = slug_of(flow)
    if reason is not None and not isinstance(reason, str):
        raise InvalidInput(f"reason must be a string or None, got {type(reason).__name__}")
    yield Query.scalar("flow_control_pause", flow_slug=slug, reason=reason)
    return (yield from _state_after(slug))


def resume_flow(flow: FlowRef) -> Operation[FlowControl]:
    """Let workers claim the flow's tasks again, in queue order. Resuming a flow that is not paused
    changes nothing. FlowNotFound for an unknown flow."""
    slug = slug_of(flow)
    yield Query.scalar("flow_control_resume", flow_slug=slug)
    return (yield from _state_after(slug))


def declare_limits(slug: str, limits: dict[str, Any]) -> Operation[None]:
    """Record the limits a flow's code declares (compile_flow); see ``pgflow._declare_flow_limits``."""
    # its result is not read: it goes in one round trip with the compile's next statement
    yield Query("flow_control_declare_limits", {"flow_slug": slug, "limits": json_text(limits, "limits")}, "none")


def concurrency_key_of(flow: FlowRef, input: Any) -> str | None:
    """The concurrency key a function key (``Flow(..., concurrency_key=function)``) gives a run
    of ``flow`` started with ``input``, sent down as the run option ``concurrency_key``; None when
    ``flow`` is a slug or has no function key (the database takes the key from the input path, if
    the flow has one) or when the function returns None (the "no key" group). InvalidInput, naming
    the option and the flow, when the function raises or returns something else than a string or
    an integer."""
    function = getattr(getattr(flow, "limits", None), "key_function", None)
    if function is None:
        return None
    slug = slug_of(flow)
    try:
        key = function(input)
    except Exception as exc:
        raise InvalidInput(f"concurrency_key of flow {slug!r} raised {type(exc).__name__}: {exc}; the function "
                           f"receives the run input and must return the run's key (a string)") from exc
    if key is None:
        return None
    if isinstance(key, bool) or not isinstance(key, (str, int)):
        raise InvalidInput(f"concurrency_key of flow {slug!r} must return a string (or None for the no-key "
                           f"group), got {type(key).__name__} {key!r}")
    text = str(key)
    if len(text) > MAX_KEY_LENGTH or "\x00" in text:
        raise InvalidInput(f"concurrency_key of flow {slug!r} returned a key of {len(text)} characters; a key is "
                           f"at most {MAX_KEY_LENGTH} characters without NUL: return an id, not a document")
    return text


def check_priority(priority: object) -> int | None:
    """A run's priority as given to start_flow / enqueue: None (the default lane, 0) or 0-1000."""
    if priority is None:
        return None
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= MAX_PRIORITY:
        raise InvalidInput(f"priority must be a whole number from 0 (the default) to {MAX_PRIORITY}, higher "
                           f"claimed first, got {priority!r}")
    return priority


def _state_after(slug: str) -> Operation[FlowControl]:
    row = yield Query.one("flow_control_state", flow_slug=slug).and_commit()
    if row is None:
        raise FlowNotFound(slug)
    return FlowControl.from_row(row)


def _scope_limits(max_running: object, rate_limit: object, where: str) -> dict[str, Any]:
    limits: dict[str, Any] = {}
    if not isinstance(max_running, _Keep):
        limits["max_running"] = _limit(max_running, f"max_running of {where}")
    if not isinstance(rate_limit, _Keep):
        limits["rate_limit"] = _rate(rate_limit, f"rate_limit of {where}")
    return limits


def _step_limits(given: object, where: str) -> dict[str, Any] | None:
    if given is None:
        return None
    if isinstance(given, Mapping):
        unknown = set(given) - {"max_running", "rate_limit"}
        if unknown:
            raise InvalidInput(f"unknown limit(s) {', '.join(sorted(map(str, unknown)))} for {where}; "
                               f"a step's limits are max_running and rate_limit")
        return _scope_limits(given.get("max_running", KEEP), given.get("rate_limit", KEEP), where)
    return {"max_running": _limit(given, f"max_running of {where}")}


def _rate(value: object, what: str) -> dict[str, float] | None:
    if value is None:
        return None
    if (not isinstance(value, (tuple, list)) or len(value) != 2 or isinstance(value[0], bool)
            or not isinstance(value[0], int) or isinstance(value[1], bool) or not isinstance(value[1], (int, float))):
        raise InvalidInput(f"{what} must be (count, seconds), e.g. (10, 1.0) for 10 starts a second, got {value!r}")
    return {"count": value[0], "per": value[1]}  # the database checks the ranges and names the flow


def _limit(value: object, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"{what} must be a whole number of at least 1 (or None for no limit), got {value!r}")
    return value
