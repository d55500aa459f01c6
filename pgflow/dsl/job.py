"""``pgflow.Job``: a background job, stored and run as a flow with exactly one step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pgflow.dsl.flow import Flow
from pgflow.dsl.step import StepDefinition
from pgflow.errors import FlowDefinitionError

F = TypeVar("F", bound=Callable[..., Any])


class Job(Flow):
    """A one-step flow (``flow_type`` "job") whose handler receives the enqueued input.

        send_email = pgflow.Job("send_email", max_attempts=5, base_delay=10, timeout=120)

        @send_email.perform
        def deliver(input, ctx): ...

    The step's slug defaults to the job's slug; ``@send_email.perform("deliver")`` names it.
    Retry and timeout options are the job's (flow-level) options.
    """

    flow_type = "job"

    def perform(self, target: Any = None, /, *, slug: str | None = None) -> Any:
        """Register the job's handler: ``@job.perform``, ``@job.perform("name")`` or ``@job.perform(slug=...)``."""
        if isinstance(target, str):
            if slug is not None:
                raise FlowDefinitionError(f"job {self.slug!r}: give the step name once, not both {target!r} and slug=")
            slug, target = target, None
        if target is not None and not callable(target):
            raise FlowDefinitionError(f"@{self.slug}.perform takes a function, got {target!r}")

        def register(handler: F) -> F:
            self.add_step(slug or self.slug, handler)
            return handler

        return register if target is None else register(target)

    @property
    def handler_step(self) -> StepDefinition:
        """The job's one step; raises if no handler was registered."""
        self._require_handler()
        return next(iter(self._steps.values()))

    @property
    def steps(self) -> tuple[StepDefinition, ...]:
        self._require_handler()
        return tuple(self._steps.values())

    def add_step(self, slug: str, handler: Callable[..., Any] | None, **options: Any) -> StepDefinition:
        if self._steps:
            existing = next(iter(self._steps))
            raise FlowDefinitionError(
                f"job {self.slug!r} already has its handler (step {existing!r}); a job has exactly one "
                f"@{self.slug}.perform. For several steps, use pgflow.Flow"
            )
        if options.get("depends_on"):
            raise FlowDefinitionError(f"job {self.slug!r}: the job's only step cannot have dependencies")
        return super().add_step(slug, handler, **options)

    def step(self, target: Any = None, /, **options: Any) -> Any:
        if isinstance(target, str) and not options:
            return super().step(target)
        raise FlowDefinitionError(
            f"job {self.slug!r} has exactly one step, defined with @{self.slug}.perform; "
            f"for several steps use pgflow.Flow"
        )

    def map(self, target: Any = None, /, **options: Any) -> Any:
        raise FlowDefinitionError(
            f"job {self.slug!r} cannot have map steps; define its handler with @{self.slug}.perform, "
            f"or use pgflow.Flow with @flow.map"
        )

    def array(self, target: Any = None, /, **options: Any) -> Any:
        raise FlowDefinitionError(
            f"job {self.slug!r} has exactly one step, defined with @{self.slug}.perform; "
            f"for array and map steps use pgflow.Flow"
        )

    def _require_handler(self) -> None:
        if not self._steps:
            raise FlowDefinitionError(
                f"job {self.slug!r} has no handler; decorate a function with @{self.slug}.perform "
                f"(def handler(input, ctx): ...)"
            )
