"""Checks for flows built from plain data (``Flow.from_steps``), where dependencies are slugs.

With decorators a step can only depend on steps defined above it, so no cycle can form. Steps
given as data can name any slug, so their order and cycles are checked here first, to say which
step to move or which dependency closes a loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pgflow.errors import FlowDefinitionError

# accepted key -> add_step keyword
_KEYS = {
    "slug": "slug",
    "deps": "depends_on",
    "depends_on": "depends_on",
    "step_type": "step_type",
    "max_attempts": "max_attempts",
    "base_delay": "base_delay",
    "timeout": "timeout",
    "start_delay": "start_delay",
    "max_running": "max_running",
    "required_input_pattern": "if_",
    "if_": "if_",
    "forbidden_input_pattern": "if_not",
    "if_not": "if_not",
    "when_unmet": "when_unmet",
    "when_exhausted": "when_exhausted",
}


def step_kwargs(row: Any, index: int, flow_slug: str) -> dict[str, Any]:
    """Translate one step dict into ``Flow.add_step`` keywords, rejecting unknown keys."""
    where = f"step #{index} of flow {flow_slug!r}"
    if not isinstance(row, dict):
        raise FlowDefinitionError(f"{where} must be a dict with at least a 'slug', got {row!r}")
    unknown = sorted(set(row) - set(_KEYS))
    if unknown:
        raise FlowDefinitionError(
            f"{where} has unknown key(s) {', '.join(map(repr, unknown))}; the keys are: {', '.join(_KEYS)}"
        )
    kwargs: dict[str, Any] = {}
    for key, value in row.items():
        target = _KEYS[key]
        if target in kwargs:
            raise FlowDefinitionError(f"{where} gives {target!r} twice (under two names); keep one")
        kwargs[target] = value
    if "slug" not in kwargs:
        raise FlowDefinitionError(f"{where} has no 'slug'")
    deps = kwargs.get("depends_on") or []
    if isinstance(deps, str) or not isinstance(deps, (list, tuple)):
        raise FlowDefinitionError(f"{where}: 'deps' must be a list of step slugs, got {deps!r}")
    kwargs["depends_on"] = list(deps)
    for mode in ("when_unmet", "when_exhausted"):
        if kwargs.get(mode) is None:
            kwargs.pop(mode, None)
    if kwargs.get("step_type") is None:
        kwargs.pop("step_type", None)
    return kwargs


def check_order(flow_slug: str, steps: Sequence[tuple[str, list[str]]]) -> None:
    """Every dependency must name a step listed earlier; explain unknown names, cycles and order."""
    position: dict[str, int] = {}
    for i, (slug, _) in enumerate(steps):
        if slug in position:
            raise FlowDefinitionError(
                f"flow {flow_slug!r} lists step {slug!r} twice (#{position[slug]} and #{i}); step slugs must be unique"
            )
        position[slug] = i
    deps_of = dict(steps)
    known = ", ".join(position) or "(none)"
    for i, (slug, deps) in enumerate(steps):
        for dep in deps:
            if not isinstance(dep, str):
                raise FlowDefinitionError(f"step {slug!r} of flow {flow_slug!r}: dependency {dep!r} is not a slug")
            if dep not in position:
                raise FlowDefinitionError(
                    f"step {slug!r} of flow {flow_slug!r} depends on unknown step {dep!r}; the flow's steps are: {known}"
                )
            if dep == slug:
                raise FlowDefinitionError(f"step {slug!r} of flow {flow_slug!r} cannot depend on itself")
            if position[dep] > i:
                cycle = _path(deps_of, dep, slug)
                if cycle:
                    loop = " -> ".join([slug, *cycle])
                    raise FlowDefinitionError(
                        f"flow {flow_slug!r} has a dependency cycle: {loop} (each depends on the next); "
                        f"remove one of these dependencies"
                    )
                raise FlowDefinitionError(
                    f"step {slug!r} of flow {flow_slug!r} depends on {dep!r}, which comes later; "
                    f"define {dep!r} before {slug!r} (dependencies come first)"
                )


def _path(deps_of: dict[str, list[str]], start: str, goal: str) -> list[str] | None:
    """A chain start -> ... -> goal following "depends on" edges, or None."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        if node == goal:
            return path
        if node in seen:
            continue
        seen.add(node)
        for dep in deps_of.get(node, []):
            if isinstance(dep, str):
                stack.append((dep, [*path, dep]))
    return None
