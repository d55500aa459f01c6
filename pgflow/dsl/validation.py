"""Definition-time checks shared by flows, jobs and steps.

Every check raises :class:`pgflow.FlowDefinitionError` with a message that names the flow or step,
says what is wrong and how to fix it. The rules mirror the SQL side (``pgflow.is_valid_slug``,
the ``steps`` table checks) and pgflow's TypeScript DSL, which is stricter than SQL on options.
"""

from __future__ import annotations

import math
from collections.abc import Callable
import re
from typing import Any

from pgflow.errors import FlowDefinitionError

# letters, digits and single underscores; first a letter, last a letter or a digit ("__" is kept
# for the queue names pgflow derives: flow__step)
SLUG_PATTERN = re.compile(r"[a-zA-Z](?:[a-zA-Z0-9_]*[a-zA-Z0-9])?")
MAX_SLUG_LENGTH = 128
# A flow's slug is also its pgmq queue name (lower-cased); pgmq refuses longer queue names.
MAX_FLOW_SLUG_LENGTH = 47
# A step's private queue (step_queues=True) is named flow__step or flow__<index>, at most 47 too.
MAX_QUEUE_NAME_LENGTH = 47
# Steps per flow (pgflow._add_step refuses more too): a flow is a graph a person reads; many
# similar units of work are one map step, not many steps. Keeps live views and layouts bounded.
MAX_STEPS = 1_000
RESERVED_SLUGS = frozenset({"run"})

CONDITION_MODES = ("fail", "skip", "skip-cascade")

# option name -> smallest allowed value (pgflow's DSL rules, stricter than the SQL checks)
OPTION_MINIMUMS = {"max_attempts": 1, "base_delay": 1, "timeout": 3, "start_delay": 0, "max_running": 1,
                   "max_running_per_key": 1}


def is_valid_slug(slug: object) -> bool:
    """The same rule as the SQL function ``pgflow.is_valid_slug``."""
    return (
        isinstance(slug, str)
        and 0 < len(slug) <= MAX_SLUG_LENGTH
        and SLUG_PATTERN.fullmatch(slug) is not None
        and "__" not in slug
        and slug not in RESERVED_SLUGS
    )


def suggest_slug(slug: str) -> str:
    """A valid slug close to ``slug``: other characters become "_", runs of "_" one, and the
    ends are trimmed to a letter (start) and a letter or digit (end)."""
    text = re.sub(r"_+", "_", re.sub(r"[^a-zA-Z0-9]", "_", slug)).strip("_")
    text = re.sub(r"^[0-9_]+", "", text)
    return text or "step"


def check_slug(slug: object, what: str, *, max_length: int = MAX_SLUG_LENGTH) -> str:
    """Return ``slug`` if it is a valid slug for ``what`` ("flow 'x'", "step of flow 'x'"...)."""
    if not isinstance(slug, str):
        raise FlowDefinitionError(f"the slug of {what} must be a string, got {type(slug).__name__} {slug!r}")
    if slug in RESERVED_SLUGS:
        raise FlowDefinitionError(
            f"{slug!r} is reserved and cannot name {what}; pick another name (e.g. {slug + '_step'!r})"
        )
    if not slug or SLUG_PATTERN.fullmatch(slug) is None or "__" in slug:
        raise FlowDefinitionError(
            f"invalid slug {slug!r} for {what}: a slug starts with a letter, contains only letters, digits "
            f"and single underscores (no \"__\", which pgflow keeps for queue names) and ends with a letter "
            f"or a digit; rename it, e.g. to {suggest_slug(slug)!r}"
        )
    if len(slug) > max_length:
        raise FlowDefinitionError(
            f"slug {slug[:20]!r}... for {what} is {len(slug)} characters long; the limit is {max_length}"
            + (" (a flow's slug is its pgmq queue name)" if max_length == MAX_FLOW_SLUG_LENGTH else "")
        )
    return slug


def check_option(name: str, value: Any, where: str) -> int | None:
    """Return ``value`` if it is None or an integer in range for option ``name``."""
    if value is None:
        return None
    minimum = OPTION_MINIMUMS[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise FlowDefinitionError(
            f"{where}: {name} must be an integer >= {minimum} (seconds for delays and timeouts), "
            f"got {type(value).__name__} {value!r}"
        )
    if value < minimum:
        raise FlowDefinitionError(f"{where}: {name} must be >= {minimum}, got {value}")
    return value


def check_rate(value: Any, where: str, name: str = "rate_limit") -> tuple[int, float] | None:
    """Return ``rate_limit`` (or option ``name``) as ``(count, seconds)``: at most count starts
    per that many seconds."""
    if value is None:
        return None
    if (not isinstance(value, (tuple, list)) or len(value) != 2 or isinstance(value[0], bool)
            or not isinstance(value[0], int) or isinstance(value[1], bool) or not isinstance(value[1], (int, float))
            or value[0] < 1 or not 0 < value[1] <= 86400):
        raise FlowDefinitionError(
            f"{where}: {name} must be (count, seconds) with a whole count >= 1 and seconds above 0 (at most "
            f"86400), e.g. {name}=(10, 1.0) for 10 starts a second; got {value!r}"
        )
    return int(value[0]), float(value[1])


MAX_KEY_PART_LENGTH = 200


def check_concurrency_key(value: Any, where: str) -> tuple[str | None, Callable[[Any], Any] | None]:
    """Return ``concurrency_key`` as (path, None) for a path into the run input - a key, or keys
    joined by dots - or (None, function) for a callable of the input; (None, None) when unset."""
    if value is None:
        return None, None
    if isinstance(value, str):
        parts = value.split(".")
        if value and all(0 < len(part) <= MAX_KEY_PART_LENGTH for part in parts):
            return value, None
    elif callable(value):
        return None, value
    raise FlowDefinitionError(
        f"{where}: concurrency_key must be a path into the run input (a key, or keys joined by dots, each "
        f"1-{MAX_KEY_PART_LENGTH} characters, e.g. \"customer_id\" or \"customer.id\") or a function of the "
        f"input returning the key; got {value!r}"
    )


def check_mode(name: str, value: Any, where: str) -> str:
    """Return ``value`` if it is one of the condition modes fail / skip / skip-cascade."""
    if not isinstance(value, str) or value not in CONDITION_MODES:
        choices = ", ".join(repr(m) for m in CONDITION_MODES)
        raise FlowDefinitionError(f"{where}: {name} must be one of {choices}, got {value!r}")
    return value


def check_pattern(name: str, value: Any, where: str) -> dict[str, Any] | None:
    """Return a private, JSON-normalised copy of a condition pattern (``if_`` / ``if_not``).

    A pattern is a JSON object matched against the step's input with PostgreSQL's ``@>``.
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise FlowDefinitionError(
            f"{where}: {name} must be a JSON object (a dict such as {{'status': 'active'}}), "
            f"got {type(value).__name__} {value!r}"
        )
    pattern: dict[str, Any] = _to_json(value, f"{where}: {name}", name)
    return pattern


def _to_json(value: Any, where: str, path: str) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FlowDefinitionError(f"{where}: {path} is {value!r}, which JSON cannot hold; use a finite number")
        return value
    if isinstance(value, (list, tuple)):
        return [_to_json(item, where, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise FlowDefinitionError(
                    f"{where}: key {key!r} in {path} is a {type(key).__name__}; JSON object keys must be strings"
                )
            result[key] = _to_json(item, where, f"{path}[{key!r}]")
        return result
    raise FlowDefinitionError(
        f"{where}: {path} is a {type(value).__name__} ({value!r}), which is not JSON; "
        f"use dicts, lists, strings, numbers, booleans and None"
    )
