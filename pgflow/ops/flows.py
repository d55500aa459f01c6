"""Operations on flow definitions: compile, read, list, delete, and runtime (data) definitions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypedDict

from pgflow.db import ClientOperation, Operation, Query, Snapshot
from pgflow.dsl.shape import describe_differences
from pgflow.errors import FlowNotFound, FlowShapeMismatch
from pgflow.models import FlowInfo, StepInfo
from pgflow.ops.common import json_text, slug_of
from pgflow.ops.flow_control import declare_limits
from pgflow.types import FlowRef, Json

if TYPE_CHECKING:
    from pgflow.dsl import Flow


class CompileResult(TypedDict):
    status: str  # compiled | verified | recompiled
    differences: list[str]  # what differed from the stored flow (recompiled)


def _shape_of(flow: Flow) -> dict[str, Json]:
    # compile_shape() adds the job marker that _create_flow_from_shape reads; shape() is the
    # plain FlowShape (duck-typed flows may offer only that)
    if hasattr(flow, "require_steps"):
        flow.require_steps()
    build = getattr(flow, "compile_shape", None) or flow.shape
    shape: dict[str, Json] = build()
    return shape


def _differences(flow: Flow, slug: str, reported: list[str]) -> Operation[list[str]]:
    """How the stored flow differs from ``flow``, in pgflow-py's words (the SQL answers with
    upstream's terser lines), plus the SQL's lines about queues."""
    stored = yield Query.scalar("client_stored_shape", flow_slug=slug)
    routing = [d for d in reported if d.startswith(("Queue mode differs", "Step routes differ"))]
    return describe_differences(_shape_of(flow), stored or {}) + routing


def _ensure_compiled(flow: Flow, slug: str) -> Operation[dict[str, Any]]:
    queue_mode = getattr(flow, "queue_mode", "flow")
    routes = getattr(flow, "queue_routes", None)
    route_map = json_text(routes(), "route map") if routes is not None else None
    result: dict[str, Any] = yield Query.scalar(
        "client_ensure_flow_compiled",
        flow_slug=slug, shape=json_text(_shape_of(flow), "flow shape"), queue_mode=queue_mode, route_map=route_map,
    )
    return result


def compile_flow(flow: Flow, allow_data_loss: bool = False) -> Operation[CompileResult]:
    """Make sure the database holds ``flow`` (a Flow or Job) as defined in code, with its queues.

    Returns ``{"status": "compiled" | "verified" | "recompiled", "differences": [...]}``.
    When the stored flow differs (steps, or queues: ``step_queues``), raises FlowShapeMismatch
    listing the differences, unless ``allow_data_loss=True``: then, in the same transaction, the
    stored flow is deleted with all its runs (``delete_flow_and_data``) and compiled anew (what
    :func:`recompile_flow` always does). The SQL function itself never deletes data outside a
    local Supabase stack, as upstream pgflow since 0.16.
    """
    # one transaction: the flow type of a Job is stored with its shape
    slug = slug_of(flow)
    result = yield from _ensure_compiled(flow, slug)
    if result["status"] == "mismatch":
        differences = yield from _differences(flow, slug, list(result.get("differences") or []))
        if not allow_data_loss:
            raise FlowShapeMismatch(slug, differences)
        yield from _replace_flow(flow, slug)
        result = {"status": "recompiled", "differences": differences}
    yield from _declare_limits(flow, slug)
    yield from _store_waits(flow, slug)
    yield from _store_flow_type(flow, slug)
    return CompileResult(status=result["status"], differences=list(result.get("differences") or []))


def recompile_flow(flow: Flow) -> Operation[CompileResult]:
    """Replace the stored definition of ``flow`` with the one in code, whatever it was: in one
    transaction the flow is deleted with all its runs, tasks and queues and compiled anew.
    **Destructive**. Returns ``{"status": "recompiled" | "compiled", "differences": [...]}``
    ("compiled" when nothing was stored)."""
    slug = slug_of(flow)
    existed = yield from flow_exists(slug)
    differences: list[str] = []
    if existed:
        differences = yield from _differences(flow, slug, [])
        yield from _replace_flow(flow, slug)
    else:
        yield from _ensure_compiled(flow, slug)
    yield from _declare_limits(flow, slug)
    yield from _store_waits(flow, slug)
    yield from _store_flow_type(flow, slug)
    return CompileResult(status="recompiled" if existed else "compiled", differences=differences)


def _replace_flow(flow: Flow, slug: str) -> Operation[None]:
    """Delete the stored flow with its runs, tasks and queues, and compile ``flow`` anew."""
    yield Query.all("client_delete_flow_and_data", flow_slug=slug)
    yield from _ensure_compiled(flow, slug)


def _declare_limits(flow: Flow, slug: str) -> Operation[None]:
    """Record the flow control its code declares (``max_running=``; not part of the shape, so a
    change needs no recompile): it replaces the limits in force only when the code changed it."""
    declared = getattr(flow, "declared_limits", None)  # duck-typed flows declare none
    yield from declare_limits(slug, declared() if declared is not None else {})


def _store_waits(flow: Flow, slug: str) -> Operation[None]:
    """Record which steps wait (signal, sleep, subflow) and how; the shape has them as plain steps."""
    rows = getattr(flow, "wait_rows", None)  # duck-typed flows have none
    # no result to read: it goes with the next statement (no round trip of its own)
    yield Query("client_set_wait_steps", {"flow_slug": slug, "waits": json_text(rows() if rows else [], "waits")},
                "none")


def _store_flow_type(flow: Flow, slug: str) -> Operation[None]:
    """Record whether the flow is a job, ending the compile's transaction."""
    flow_type = getattr(flow, "flow_type", "flow")
    yield Query.execute("client_set_flow_type", flow_slug=slug, flow_type=flow_type).and_commit()


def flow_exists(flow: FlowRef) -> Operation[bool]:
    """Whether a flow (Flow, Job or slug) is stored in the database."""
    return bool((yield Query.scalar("client_flow_exists", flow_slug=slug_of(flow))))


def _flows(slug: str | None) -> ClientOperation[list[FlowInfo]]:
    flow_rows, step_rows = yield Snapshot((Query.all("client_select_flows", flow_slug=slug),
                                           Query.all("client_select_flow_steps", flow_slug=slug)))
    steps: dict[str, list[StepInfo]] = {}
    for row in step_rows:
        steps.setdefault(row["flow_slug"], []).append(StepInfo.from_row(row))
    return [FlowInfo.from_row(row, tuple(steps.get(row["flow_slug"], ()))) for row in flow_rows]


def get_flow(flow: FlowRef) -> ClientOperation[FlowInfo]:
    """The stored definition: options and steps (in order) with their dependencies; FlowNotFound
    when there is none."""
    slug = slug_of(flow)
    found = yield from _flows(slug)
    if not found:
        raise FlowNotFound(slug)
    return found[0]


def list_flows() -> ClientOperation[list[FlowInfo]]:
    """Every stored flow and job, by slug."""
    return (yield from _flows(None))


def delete_flow(flow: FlowRef) -> Operation[None]:
    """Delete a flow with all its runs, step states, tasks and its queue, and its schedules
    (with their pg_cron jobs). Irreversible."""
    # the schedules' pg_cron jobs are dropped at commit by a trigger on pgflow.flows
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
    """Store a flow defined as data, e.g. a per-tenant automation, replacing any flow of that slug.

    ``steps`` is a list of dicts in step order: ``{"slug": "a", "deps": ["b"], "step_type":
    "single" | "map", "max_attempts": ..., "base_delay": ..., "timeout": ..., "start_delay":
    ..., "required_input_pattern": {...}, "forbidden_input_pattern": {...}, "when_unmet": ...,
    "when_exhausted": ...}``, validated with the DSL's rules first (a bad definition raises
    FlowDefinitionError and changes nothing). **Destructive**: when the slug exists, its runs,
    tasks and queued messages are deleted with the old definition. Returns
    ``{"status": "compiled"}`` for a new slug, ``{"status": "recompiled"}`` otherwise.
    """
    from pgflow.dsl import Flow

    flow = Flow.from_steps(slug, steps, max_attempts=max_attempts, base_delay=base_delay, timeout=timeout)
    existed = yield from flow_exists(slug)
    if existed:
        yield Query.all("client_delete_flow_and_data", flow_slug=slug)
    yield from compile_flow(flow)
    return {"status": "recompiled" if existed else "compiled"}
