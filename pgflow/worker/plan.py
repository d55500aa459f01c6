"""What the worker precomputes per step, so the hot path never walks a flow definition.

Timeouts, attempts and delays come from the database, not the code: compiling a flow that
already exists keeps its stored options (pgflow compares structure only), and the SQL retries
and requeues by the stored values, so the worker's handler timeouts must agree with them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pgflow.dsl.flow import Flow
from pgflow.dsl.step import StepDefinition
from pgflow.errors import ConfigurationError
from pgflow.models import FlowInfo

log = logging.getLogger("pgflow.worker")


@dataclass(frozen=True)
class StepPlan:
    flow: Flow
    step: StepDefinition
    timeout: int
    max_attempts: int
    base_delay: int
    has_dependents: bool
    dependent_start_delays: tuple[int, ...]
    root_single: bool = False  # a root single step: its tasks carry the flow input
    keeps_flow_input: bool = False  # root single step of a flow whose other tasks may ask for the input

    def retry_delay(self, attempt: int) -> float | None:
        """Seconds until a failed attempt's retry is visible (pgflow: ``floor(base * 2^attempt)``),
        or None when that was the last attempt."""
        if attempt >= self.max_attempts:
            return None
        return float(int(self.base_delay * 2**attempt))


def plan_flows(flows: list[Flow], stored: dict[str, FlowInfo]) -> dict[tuple[str, str], StepPlan]:
    """One plan per step, with the options stored in the database (``stored``, by flow slug)."""
    plans: dict[tuple[str, str], StepPlan] = {}
    for flow in flows:
        info = stored[flow.slug]
        stored_steps = {s.step_slug: s for s in info.steps}
        steps = flow.steps
        for step in steps:
            if step.wait is not None:  # a signal, sleep or subflow step: the database ends it, no task is claimed
                continue
            if step.handler is None:
                raise ConfigurationError(
                    f"step {step.slug!r} of {flow.flow_type} {flow.slug!r} has no handler, so a worker cannot "
                    f"run it; define it with a decorator (@{flow.slug}.step) in the code the worker imports"
                )
            row = stored_steps[step.slug]
            dependents = [s for s in steps if step.slug in s.depends_on]
            plan = StepPlan(
                flow=flow,
                step=step,
                timeout=_first(row.timeout, info.timeout),
                max_attempts=_first(row.max_attempts, info.max_attempts),
                base_delay=_first(row.base_delay, info.base_delay),
                has_dependents=bool(dependents),
                dependent_start_delays=tuple(sorted({_first(stored_steps[s.slug].start_delay, 0)
                                                     for s in dependents} - {0})),
                root_single=step.is_root and not step.is_map,
                keeps_flow_input=step.is_root and not step.is_map
                and any(not s.is_root or s.is_map for s in steps),
            )
            code = (step.effective_timeout(flow), step.effective_max_attempts(flow), step.effective_base_delay(flow))
            if code != (plan.timeout, plan.max_attempts, plan.base_delay):
                log.warning(
                    "step %s/%s: the database keeps timeout=%s max_attempts=%s base_delay=%s, the code says "
                    "timeout=%s max_attempts=%s base_delay=%s; the stored values apply. To change them, compile "
                    "the flow under a new slug or with allow_data_loss=True", flow.slug, step.slug,
                    plan.timeout, plan.max_attempts, plan.base_delay, *code)
            plans[(flow.slug, step.slug)] = plan
    return plans


def start_delays(info: FlowInfo) -> tuple[int, ...]:
    """Distinct start delays of a flow (after a notification, their messages appear that much later)."""
    return tuple(sorted({s.start_delay for s in info.steps if s.start_delay}))


def _first(*values: int | None) -> int:
    return next(v for v in values if v is not None)
