"""Operations on flow definitions: compile, read, list, delete, and runtime (data) definitions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pgflow.db.executor import Operation, Query
from pgflow.errors import FlowNotFound, FlowShapeMismatch
from pgflow.models import FlowInfo, StepInfo
from pgflow.ops.common import json_text, slug_of
from pgflow.db import ClientOperation, Snapshot


def _shape_of(flow: Any) -> dict[str, Any]:
    # compile_shape() adds the job marker that _create_flow_from_shape reads; shape() is the
    # plain FlowShape (duck-typed flows may offer only that)
    build = getattr(flow, "compile_shape", None) or flow.shape
    return build()


def compile_flow(flow: Any, allow_data_loss: bool = False) -> Operation[dict[str, Any]]:
    """Make sure the database holds ``flow`` (a Flow or Job) as defined in code.

    Returns ``{"status": "compiled" | "verified" | "recompiled", "differences": [...]}``. A stored
    flow with another structure raises :class:`FlowShapeMismatch` listing the differences,
    unless ``allow_data_loss`` (then the flow is recreated and its runs are deleted).
    Run it in one transaction: the flow type of a Job is stored with it.
    """
    slug = slug_of(flow)
    result = yield Query.scalar(
        "client_ensure_flow_compiled",
        flow_slug=slug, shape=json_text(_shape_of(flow), "flow shape"), allow_data_loss=bool(allow_data_loss),
    )
    if result["status"] == "mismatch":
        raise FlowShapeMismatch(slug, result.get("differences") or [])
    flow_type = getattr(flow, "flow_type", "flow")
    yield Query.execute("client_set_flow_type", flow_slug=slug, flow_type=flow_type).and_commit()
    return {"status": result["status"], "differences": list(result.get("differences") or [])}


def flow_exists(flow: Any) -> Operation[bool]:
    return bool((yield Query.scalar("client_flow_exists", flow_slug=slug_of(flow))))


def _flows(slug: str | None) -> ClientOperation[list[FlowInfo]]:
    flow_rows, step_rows = yield Snapshot((Query.all("client_select_flows", flow_slug=slug),
                                           Query.all("client_select_flow_steps", flow_slug=slug)))
    steps: dict[str, list[StepInfo]] = {}
    for row in step_rows:
        steps.setdefault(row["flow_slug"], []).append(StepInfo.from_row(row))
    return [FlowInfo.from_row(row, tuple(steps.get(row["flow_slug"], ()))) for row in flow_rows]


def get_flow(flow: Any) -> ClientOperation[FlowInfo]:
    """The stored definition of one flow: options, steps in order, dependencies."""
    slug = slug_of(flow)
    found = yield from _flows(slug)
    if not found:
        raise FlowNotFound(slug)
    return found[0]


def list_flows() -> ClientOperation[list[FlowInfo]]:
    """Every stored flow and job, by slug."""
    return (yield from _flows(None))


def delete_flow(flow: Any) -> Operation[None]:
    """Delete a flow with its runs, step states, tasks and pgmq queue, and its schedules with their
    pg_cron jobs (a trigger on pgflow.flows drops those at commit). Irreversible."""
    slug = slug_of(flow)
    if not (yield from flow_exists(slug)):
        raise FlowNotFound(slug)
    yield Query.all("client_delete_flow_and_data", flow_slug=slug).and_commit()


def upsert_flow(
    slug: str,
    steps: Sequence[dict[str, Any]],
    *,
    max_attempts: int | None = None,
    base_delay: int | None = None,
    timeout: int | None = None,
) -> Operation[dict[str, str]]:
    """Store a flow defined as data (no handlers); replaces an existing flow of that slug.

    Destructive for an existing slug: its runs, step states, tasks and queued messages are
    deleted with the old definition. Steps are validated with the DSL's rules first
    (:meth:`pgflow.Flow.from_steps`), so a bad definition raises FlowDefinitionError and
    changes nothing. Returns ``{"status": "compiled"}`` (new) or ``{"status": "recompiled"}``.
    """
    from pgflow.dsl import Flow

    flow = Flow.from_steps(slug, steps, max_attempts=max_attempts, base_delay=base_delay, timeout=timeout)
    existed = yield from flow_exists(slug)
    if existed:
        yield Query.all("client_delete_flow_and_data", flow_slug=slug)
    yield from compile_flow(flow)
    return {"status": "recompiled" if existed else "compiled"}
