"""Waiting steps: steps with no handler that wait, durable in the database, for a signal
(``flow.signal``), for a time (``flow.sleep``, ``flow.sleep_until``) or for a child run
(``flow.subflow``).

The flow's shape keeps them as plain steps ('single', or 'map' for a map of subflows), so
upstream's tools read and compile the flow; how each one waits is a :class:`WaitSpec` that
``Client.compile`` stores beside the shape (``pgflow.wait_steps``). No worker runs them: they
start without a queue message and end in SQL (``pgflow.signal``, ``pgflow.wake_due_steps``, the
child run's end).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, Literal

from pgflow.dsl.step import StepDefinition
from pgflow.dsl.wait_spec import WaitSpec
from pgflow.errors import FlowDefinitionError

MAX_SUBFLOW_DEPTH = 10  # a run, its child, its grandchild, ...: at most this many levels below a run
_NO_DEFAULT: Any = object()
_MAX_SECONDS = 2**31 - 1  # the int columns of pgflow.wait_steps


def duration_seconds(value: timedelta | float | int | None, what: str, where: str, *, allow_zero: bool = True,
                     allow_negative: bool = False) -> int | None:
    """Whole seconds of a duration given as a timedelta or a number of seconds."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (timedelta, int, float)):
        raise FlowDefinitionError(f"{where}: {what} must be a timedelta or a number of seconds, got {value!r}")
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if allow_negative and seconds < 0:
        return -(duration_seconds(-seconds, what, where) or 0)
    if not math.isfinite(seconds) or seconds > _MAX_SECONDS:
        raise FlowDefinitionError(f"{where}: {what} must be at most {_MAX_SECONDS} seconds (68 years), got {value!r}")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise FlowDefinitionError(f"{where}: {what} must be {'0 or more' if allow_zero else 'more than 0'} "
                                  f"seconds, got {value!r}")
    return int(round(seconds))


def field_path(value: Any, what: str, where: str) -> tuple[str, ...]:
    """A path into a step's input: ``"signup.remind_at"`` or ``["signup", "remind_at"]``."""
    if callable(value):
        raise FlowDefinitionError(
            f"{where}: {what} takes a field path such as 'signup.remind_at', not a function: the step "
            f"waits in the database, where no Python runs. Compute the value in the step before and "
            f"name its field here"
        )
    parts = value.split(".") if isinstance(value, str) else list(value) if isinstance(value, (list, tuple)) else None
    if not parts or not all(isinstance(p, str) and p for p in parts):
        raise FlowDefinitionError(f"{where}: {what} must be a field path such as 'signup.remind_at' "
                                  f"(or a list of keys), got {value!r}")
    return tuple(parts)


def subflow_chain(child: Any, parent_slug: str, where: str) -> None:
    """Refuse a subflow that would call back into ``parent_slug`` (A -> B -> A) or nest more than
    MAX_SUBFLOW_DEPTH levels deep; both are known when the step is defined."""
    def depth(flow: Any, seen: tuple[str, ...]) -> int:
        if flow.slug == parent_slug or flow.slug in seen:
            cycle = " -> ".join((parent_slug, *seen, flow.slug))
            raise FlowDefinitionError(f"{where}: a subflow cycle ({cycle}) would start runs forever; a flow "
                                      f"cannot run itself, directly or through its subflows")
        below = [s.wait.child for s in flow.steps if getattr(s, "wait", None) is not None and s.wait.kind == "subflow"]
        return 1 + max((depth(c, (*seen, flow.slug)) for c in below), default=0)

    if not hasattr(child, "slug") or not hasattr(child, "steps"):
        raise FlowDefinitionError(f"{where}: subflow takes the child pgflow.Flow object, got {child!r}")
    levels = depth(child, ())
    if levels > MAX_SUBFLOW_DEPTH:
        raise FlowDefinitionError(f"{where}: subflows nest {levels} levels deep; at most {MAX_SUBFLOW_DEPTH} "
                                  f"are allowed")


class WaitingSteps:
    """The decorators of waiting steps, mixed into :class:`pgflow.Flow`."""

    slug: str
    add_step: Callable[..., StepDefinition]

    @property
    def steps(self) -> tuple[StepDefinition, ...]:  # pragma: no cover - Flow defines it
        raise NotImplementedError

    def wait_rows(self) -> list[dict[str, Any]]:
        """The waiting steps as ``pgflow._set_wait_steps`` stores them (Client.compile sends them)."""
        return [step.wait.to_row(step.slug) for step in self.steps if step.wait is not None]

    def signal(self, slug: Any = None, /, *, depends_on: Iterable[Any] | Any = (),
               timeout: timedelta | float | None = None, default: Any = _NO_DEFAULT,
               early_signals: Literal["keep", "reject"] = "keep", **options: Any) -> Any:
        """A step that waits for a signal: ``client.signal(run_id, "approval", payload)`` completes
        it, and its output is the payload.

            approval = order.signal("approval", depends_on=[create_order], timeout=timedelta(days=2))

        ``timeout``: after that long the step fails with no retry (``when_exhausted`` applies), or,
        with ``default=``, completes with that output. ``early_signals``: a signal sent before the
        step waits is kept and delivered when it does ("keep"), or refused ("reject"). Also
        a decorator (``@order.signal(depends_on=[...])`` on a function, which only names the step).
        """
        where = f"signal step {slug if isinstance(slug, str) else ''!r} of flow {self.slug!r}"
        if early_signals not in ("keep", "reject"):
            raise FlowDefinitionError(f"{where}: early_signals must be 'keep' or 'reject', got {early_signals!r}")
        spec = WaitSpec("signal", timeout=duration_seconds(timeout, "timeout", where, allow_zero=False),
                        has_default=default is not _NO_DEFAULT, default=None if default is _NO_DEFAULT else default,
                        early_signals=early_signals)
        return self._waiting(slug, spec, depends_on, options)

    def sleep(self, slug: Any = None, /, *, duration: timedelta | float, depends_on: Iterable[Any] | Any = (),
              **options: Any) -> Any:
        """A step that completes ``duration`` (a timedelta or seconds) after it starts, holding no
        worker meanwhile. Its output is ``{"slept_until": <time>}``."""
        where = f"sleep step {slug if isinstance(slug, str) else ''!r} of flow {self.slug!r}"
        spec = WaitSpec("sleep", seconds=duration_seconds(duration, "duration", where) or 0)
        return self._waiting(slug, spec, depends_on, options)

    def sleep_until(self, slug: Any = None, /, *, at: str | list[str], depends_on: Iterable[Any] | Any = (),
                    offset: timedelta | float = 0, **options: Any) -> Any:
        """A step that completes at the time found at the field path ``at`` of its input (an ISO
        8601 text or seconds since 1970) plus ``offset`` (negative: before it). ``at="signup.remind_at"``
        reads the output of the dependency ``signup``; a root step reads the flow input. A time in
        the past completes it at once; a missing or unreadable time fails it, naming what it found."""
        where = f"sleep_until step {slug if isinstance(slug, str) else ''!r} of flow {self.slug!r}"
        spec = WaitSpec("sleep", at=field_path(at, "at", where), seconds=duration_seconds(offset, "offset", where, allow_negative=True) or 0)
        return self._waiting(slug, spec, depends_on, options)

    def subflow(self, child: Any, /, *, slug: str | None = None, depends_on: Iterable[Any] | Any = (),
                array: Any = None, input: str | list[str] | None = None, **options: Any) -> StepDefinition:
        """A step that runs the flow ``child`` and completes with the child run's output (or
        fails with its error). ``input``: the field path of the child's input in the step's input
        (default: all of it - the flow input for a root step, ``{dep: output}`` otherwise).
        ``array=step`` starts one child per element of that step's output (a map of subflows;
        the step's output is the list of the children's outputs)."""
        name = slug or getattr(child, "slug", None)
        where = f"subflow step {name!r} of flow {self.slug!r}"
        subflow_chain(child, self.slug, where)
        spec = WaitSpec("subflow", child=child, input=None if input is None else field_path(input, "input", where))
        if array is not None:
            if depends_on:
                raise FlowDefinitionError(f"{where}: a map of subflows takes array=<step> instead of depends_on")
            options["step_type"] = "map"
            depends_on = [array]
        definition: StepDefinition = self._waiting(name, spec, depends_on, options)
        return definition

    def _waiting(self, slug: Any, spec: WaitSpec, depends_on: Any, options: dict[str, Any]) -> Any:
        if "handler" in options or "max_attempts" in options or "base_delay" in options:
            raise FlowDefinitionError(
                f"waiting step {slug!r} of flow {self.slug!r}: it runs no handler, so it takes no handler, "
                f"max_attempts or base_delay"
            )
        if slug is None or callable(slug):
            def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
                name = getattr(function, "__name__", None)
                if not isinstance(name, str) or name == "<lambda>":
                    raise FlowDefinitionError(f"flow {self.slug!r}: name the waiting step: pass its slug first")
                self.add_step(name, None, depends_on=depends_on, wait=spec, **options)
                return function
            return decorate(slug) if callable(slug) else decorate
        return self.add_step(slug, None, depends_on=depends_on, wait=spec, **options)
