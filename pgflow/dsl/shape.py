"""The flow shape: the canonical JSON that ``pgflow.ensure_flow_compiled`` compares.

It follows pgflow's TypeScript DSL (``extractFlowShape``) key for key, so a flow defined in
Python and the same flow defined in TypeScript produce the same text:

    {"steps": [{"slug", "stepType", "dependencies" (sorted), "whenUnmet", "whenExhausted",
                "requiredInputPattern": {"defined": false} | {"defined": true, "value": ...},
                "forbiddenInputPattern": ..., "options": {only the options that are set}}],
     "options": {only the flow options that are set}}

``options`` keys are left out entirely when nothing is set. ``shape_json`` writes the text the way
JavaScript's ``JSON.stringify`` does (key order of integer-like keys, number formatting, raw
non-ASCII), which ``json.dumps(shape, separators=(",", ":"))`` matches for all but unusual floats.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pgflow.dsl.options import FlowOptions
    from pgflow.dsl.step import StepDefinition

_STEP_OPTIONS = (("maxAttempts", "max_attempts"), ("baseDelay", "base_delay"), ("timeout", "timeout"),
                 ("startDelay", "start_delay"))
_FLOW_OPTIONS = _STEP_OPTIONS[:3]


def build_shape(steps: Iterable[StepDefinition], options: FlowOptions) -> dict[str, Any]:
    shape: dict[str, Any] = {"steps": [step_shape(step) for step in steps]}
    flow_options = {key: getattr(options, attr) for key, attr in _FLOW_OPTIONS if getattr(options, attr) is not None}
    if flow_options:
        shape["options"] = flow_options
    return shape


def step_shape(step: StepDefinition) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "slug": step.slug,
        "stepType": step.step_type,
        "dependencies": sorted(step.depends_on),
        "whenUnmet": step.when_unmet,
        "whenExhausted": step.when_exhausted,
        "requiredInputPattern": _pattern(step.required_input_pattern),
        "forbiddenInputPattern": _pattern(step.forbidden_input_pattern),
    }
    options = {key: getattr(step, attr) for key, attr in _STEP_OPTIONS if getattr(step, attr) is not None}
    if options:
        shape["options"] = options
    return shape


def _pattern(value: dict[str, Any] | None) -> dict[str, Any]:
    if value is None:
        return {"defined": False}
    return {"defined": True, "value": js_normalize(value)}


def js_normalize(value: Any) -> Any:
    """Reorder and convert a JSON value the way a JavaScript object would hold it.

    JavaScript lists integer-like keys ("0", "12") first, in numeric order, then the other keys in
    insertion order; and it has no separate integer type, so 2.0 is written as 2.
    """
    if isinstance(value, dict):
        index_keys = sorted((k for k in value if _is_array_index(k)), key=int)
        other_keys = [k for k in value if not _is_array_index(k)]
        return {k: js_normalize(value[k]) for k in index_keys + other_keys}
    if isinstance(value, list):
        return [js_normalize(item) for item in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


def _is_array_index(key: str) -> bool:
    return key.isdigit() and key.isascii() and (key == "0" or key[0] != "0") and int(key) < 2**32 - 1


def shape_json(shape: Any) -> str:
    """Serialise like JavaScript's ``JSON.stringify`` (compact, UTF-8 characters kept as they are)."""
    return _encode(js_normalize(shape))


def _encode(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ",".join(f"{_encode(str(k))}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    if isinstance(value, float):
        return js_number(value)
    return json.dumps(value, ensure_ascii=False)


def js_number(value: float) -> str:
    """Format a finite float as JavaScript's ``Number.prototype.toString`` does."""
    if value == 0:
        return "0"
    mantissa, _, exponent = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + int(exponent or 0)  # value = 0.<digits> * 10**point, before stripping
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k, n = len(digits), point
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        e = n - 1
        text = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e >= 0 else "-") + str(abs(e))
    return ("-" if value < 0 else "") + text


_STEP_DEFAULTS: dict[str, Any] = {
    "stepType": "single", "dependencies": [], "whenUnmet": "skip", "whenExhausted": "fail",
    "requiredInputPattern": {"defined": False}, "forbiddenInputPattern": {"defined": False},
}
_STRUCTURAL = ("slug", "stepType", "dependencies", "whenUnmet", "whenExhausted",
               "requiredInputPattern", "forbiddenInputPattern")


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, dict) and "defined" in value:
        return json.dumps(value.get("value")) if value.get("defined") else "not defined"
    return json.dumps(value)


def describe_differences(code: dict[str, Any], stored: dict[str, Any]) -> list[str]:
    """How the shape in code differs from the stored one, one readable line each (what
    ``FlowShapeMismatch`` lists; the SQL function ``_compare_flow_shapes`` answers with upstream
    pgflow's terser lines). Compares what ``_compare_flow_shapes`` compares, defaults filled in."""
    def normal(step: dict[str, Any]) -> dict[str, Any]:
        full = {**_STEP_DEFAULTS, **step}
        return {**full, "dependencies": sorted(full["dependencies"])}

    mine = [normal(s) for s in code.get("steps") or []]
    theirs = [normal(s) for s in stored.get("steps") or []]
    lines = [f"step count differs: {len(mine)} in code, {len(theirs)} in database"] if len(mine) != len(theirs) else []
    for i in range(max(len(mine), len(theirs))):
        if i >= len(theirs):
            lines.append(f"step {i}: {json.dumps(mine[i]['slug'])} exists only in code")
        elif i >= len(mine):
            lines.append(f"step {i}: {json.dumps(theirs[i]['slug'])} exists only in the database")
        else:
            lines += [f"step {i} {json.dumps(mine[i]['slug'])}: {key} {_shown(mine[i][key])} in code, "
                      f"{_shown(theirs[i][key])} in database"
                      for key in _STRUCTURAL if mine[i][key] != theirs[i][key]]
    return lines
