"""StepDefinition: one step of a flow, as the worker, client and testing helpers see it."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pgflow.dsl.options import DEFAULT_BASE_DELAY, DEFAULT_MAX_ATTEMPTS, DEFAULT_TIMEOUT, HasOptions
from pgflow.dsl.wait_spec import WaitSpec
from pgflow.errors import FlowDefinitionError

StepType = Literal["single", "map"]
ConditionMode = Literal["fail", "skip", "skip-cascade"]


@dataclass(frozen=True)
class StepDefinition:
    """A validated step. Build steps with the ``Flow`` decorators, not directly.

    ``handler`` is called as ``handler(input, ctx)``, or ``handler(input)`` when it takes a single
    parameter (``takes_context`` is False). ``input`` is the flow input for a root single step,
    ``{dep_slug: output, ...}`` for a dependent single step and one array element for a map step.
    ``handler`` is None only for steps built from plain data (``Flow.from_steps``).
    """

    slug: str
    handler: Callable[..., Any] | None
    depends_on: tuple[str, ...] = ()
    step_type: StepType = "single"
    array: str | None = None
    max_attempts: int | None = None
    base_delay: int | None = None
    timeout: int | None = None
    start_delay: int | None = None
    required_input_pattern: dict[str, Any] | None = None
    forbidden_input_pattern: dict[str, Any] | None = None
    when_unmet: ConditionMode = "skip"
    when_exhausted: ConditionMode = "fail"
    is_async: bool = False
    takes_context: bool = True
    # pgflow-py additions
    returns_array: bool = False  # defined with @flow.array: its output feeds a map step
    index: int = 0  # position in the flow (definition order)
    wait: WaitSpec | None = None  # a waiting step (flow.signal, .sleep, .sleep_until, .subflow): no handler
    max_running: int | None = None  # flow control: at most this many of its tasks running at once
    rate_limit: tuple[int, float] | None = None  # flow control: at most count starts per seconds

    def __hash__(self) -> int:
        return hash((self.slug, self.depends_on, self.step_type, self.index))

    @property
    def is_root(self) -> bool:
        """True when the step has no dependencies (it reads the flow input)."""
        return not self.depends_on

    @property
    def is_map(self) -> bool:
        return self.step_type == "map"

    def effective_max_attempts(self, flow: HasOptions) -> int:
        return _first_set(self.max_attempts, flow.options.max_attempts, DEFAULT_MAX_ATTEMPTS)

    def effective_base_delay(self, flow: HasOptions) -> int:
        return _first_set(self.base_delay, flow.options.base_delay, DEFAULT_BASE_DELAY)

    def effective_timeout(self, flow: HasOptions) -> int:
        return _first_set(self.timeout, flow.options.timeout, DEFAULT_TIMEOUT)

    def call_handler(self, input: Any, ctx: Any = None) -> Any:
        """Call the handler with or without ``ctx`` according to its signature.

        Returns whatever the handler returns (a coroutine for an async handler).
        """
        if self.handler is None:
            raise FlowDefinitionError(
                f"step {self.slug!r} has no handler (it was defined from data); "
                f"define it with a decorator to run it in Python"
            )
        if self.takes_context:
            return self.handler(input, ctx)
        return self.handler(input)


def _first_set(*values: int | None) -> int:
    return next(v for v in values if v is not None)


def handler_name(handler: Any) -> str | None:
    """The name a step takes by default from its handler (None when it has none)."""
    target = handler.func if isinstance(handler, functools.partial) else handler
    name = getattr(target, "__name__", None)
    return name if isinstance(name, str) and name != "<lambda>" else None


def inspect_handler(handler: Any, where: str) -> tuple[bool, bool]:
    """Return ``(is_async, takes_context)`` for a handler, or explain why it cannot be one.

    A handler takes the input and, optionally, the context: one or two positional parameters.
    """
    if not callable(handler):
        raise FlowDefinitionError(f"{where}: the handler must be callable, got {type(handler).__name__} {handler!r}")
    call = getattr(handler, "__call__", None)  # noqa: B004 - callable objects with an async __call__
    is_async = inspect.iscoroutinefunction(handler) or (
        not inspect.isroutine(handler) and not isinstance(handler, type) and inspect.iscoroutinefunction(call)
    )
    if inspect.isasyncgenfunction(handler) or inspect.isgeneratorfunction(handler):
        raise FlowDefinitionError(
            f"{where}: the handler is a generator function; a handler must return its output (use return, not yield)"
        )
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):
        return is_async, True  # builtins without a signature: give them both arguments
    positional = [
        p
        for p in signature.parameters.values()
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    required = [p for p in positional if p.default is inspect.Parameter.empty]
    has_varargs = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in signature.parameters.values())
    required_keyword = [
        p.name
        for p in signature.parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is inspect.Parameter.empty
    ]
    usage = "a handler takes (input) or (input, ctx)"
    if required_keyword:
        raise FlowDefinitionError(
            f"{where}: the handler has required keyword-only parameters ({', '.join(required_keyword)}); "
            f"{usage}; give them defaults"
        )
    if len(required) > 2:
        names = ", ".join(p.name for p in required)
        raise FlowDefinitionError(f"{where}: the handler requires {len(required)} parameters ({names}); {usage}")
    if not positional and not has_varargs:
        raise FlowDefinitionError(f"{where}: the handler takes no parameters; {usage}")
    takes_context = has_varargs or len(positional) >= 2
    return is_async, takes_context
