"""Checks and conversions of what callers pass to operations."""

from __future__ import annotations

import math
import os
from datetime import timedelta
from uuid import UUID

from pgflow.db.jsonb import NotStorable, jsonb_text
from pgflow.dsl.flow import Flow
from pgflow.dsl.job import Job
from pgflow.errors import ConfigurationError, FlowDefinitionError, FlowNotFound, InvalidInput
from pgflow.types import FlowRef, Json, RunId


def not_compiled_hint(exc: FlowNotFound, args: tuple[object, ...], kwargs: dict[str, object]) -> FlowNotFound:
    """For a call given a Flow or Job object whose slug is not stored: a FlowNotFound that says
    this definition was never compiled into the database, and how to compile it (else ``exc``)."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, Flow) and value.slug == exc.flow_slug:
            return FlowNotFound(exc.flow_slug, (
                f"the {value.flow_type} {value.slug!r} you passed is defined in Python but not compiled into this "
                f"database; call client.compile({value.flow_type}) once (or `pgflow compile module:attr`), or start "
                f"a worker that serves it: workers compile their flows when they start"))
    return exc


def slug_of(flow: FlowRef) -> str:
    """The slug of a Flow or Job (anything with ``.slug``) or of a slug string.

    A string with a NUL character names no flow (PostgreSQL text cannot hold one): FlowNotFound,
    rather than the driver's error about the parameter.
    """
    if isinstance(flow, str):
        if "\x00" in flow:
            raise FlowNotFound(flow, f"no flow has the slug {flow!r}: it contains a NUL character (\\x00), which "
                                     f"no slug can; check where the slug came from")
        return flow
    slug = getattr(flow, "slug", None)
    if isinstance(slug, str):
        return slug
    raise FlowDefinitionError(f"expected a Flow, a Job or a flow slug (str), got {type(flow).__name__} {flow!r}")


def json_text(value: Json, what: str = "input") -> str:
    """``value`` as JSON text; InvalidInput when jsonb cannot store it (see :mod:`pgflow.db.jsonb`),
    or when it is a run's input larger than ``$PGFLOW_MAX_INPUT_BYTES`` (unset: no limit)."""
    try:
        text = jsonb_text(value)
    except NotStorable as exc:
        raise InvalidInput(f"the {what} {exc.reason}; {exc.fix}") from None
    if what == "input" and (limit := max_input_bytes()) is not None and len(text) > limit \
            and (size := len(text.encode())) > limit:
        raise InvalidInput(
            f"the input is {size:,} bytes of JSON, more than PGFLOW_MAX_INPUT_BYTES={limit:,}: pass large data "
            f"by reference (a URL, a storage key, a table row) or raise the limit")
    return text


def max_input_bytes() -> int | None:
    """The optional cap on a run input's JSON size, from ``$PGFLOW_MAX_INPUT_BYTES`` (bytes)."""
    raw = os.environ.get("PGFLOW_MAX_INPUT_BYTES", "").strip().replace("_", "")
    if not raw:
        return None
    if not raw.isdigit() or int(raw) <= 0:
        raise ConfigurationError(
            f"PGFLOW_MAX_INPUT_BYTES must be a positive number of bytes (e.g. 1000000), not {raw!r}; unset it for no limit")
    return int(raw)


def run_uuid(run_id: RunId) -> UUID:
    """A run id given as UUID or text."""
    if isinstance(run_id, UUID):
        return run_id
    try:
        return UUID(str(run_id))
    except ValueError:
        raise InvalidInput(f"{run_id!r} is not a run id: a run id is a UUID such as "
                           f"'3f2a9c1e-0b7d-4c55-9d0e-6a1b2c3d4e5f'") from None


# what PostgreSQL adds to a timestamp without overflowing, with room to spare (about 10,000 years)
MAX_SECONDS = 10_000 * 365.25 * 86_400
# the largest LIMIT (and count) PostgreSQL takes: a bigint
MAX_COUNT = 2**63 - 1


def seconds_of(value: float | timedelta, what: str) -> float:
    """Seconds from a number or a timedelta: a finite number within 10,000 years either way
    (NaN, infinities and beyond would overflow PostgreSQL's intervals and timestamps)."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{what} must be a number of seconds or a timedelta, got {type(value).__name__} {value!r}")
    else:
        try:
            seconds = float(value)
        except OverflowError:  # an int too large for a float
            seconds = math.inf
    if math.isnan(seconds):
        raise InvalidInput(f"{what} must be a number of seconds, got NaN")
    if abs(seconds) > MAX_SECONDS:
        raise InvalidInput(f"{what} of {value!r} seconds is out of range: at most {MAX_SECONDS:.0f} s "
                           f"(10,000 years) either way")
    return seconds


def count_of(value: int, what: str) -> int:
    """A whole number >= 1 that PostgreSQL takes as a bigint (a LIMIT, a number of rows)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_COUNT:
        raise InvalidInput(f"{what} must be a whole number from 1 to {MAX_COUNT}, got {value!r}")
    return value


def json_type(value: Json) -> str:
    """The JSON type of a Python value as ``jsonb_typeof`` names it ('object', 'array', ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, (list, tuple)) else "object"


def check_flow_input(flow: FlowRef, value: Json) -> None:
    """InvalidInput, before any SQL, when ``flow`` is a definition whose root map step maps the
    flow input and ``value`` is not a list (for a slug, start_flow's SQL checks the same)."""
    if not isinstance(flow, Flow) or isinstance(flow, Job) or isinstance(value, (list, tuple)):
        return  # a job has no map step
    for step in flow.steps:
        if step.is_map and step.is_root:
            raise InvalidInput(
                f"flow {flow.slug!r}: root map step {step.slug!r} maps the flow input, which must be a JSON "
                f"array, but got {json_type(value)}; start it with a list, e.g. [1, 2, 3] (an empty list is fine)"
            )
