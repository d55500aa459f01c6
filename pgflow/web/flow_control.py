"""The dashboard's flow-control actions (declared with :mod:`pgflow.web.actions`): pause and
resume a flow from its page, and what the flow page shows of flow control: whether it is paused,
its limits, the slots in use and its queue depth (docs/guides/flow-control.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from pgflow.db import Operation
from pgflow.models import FlowControl
from pgflow.ops.flow_control import pause_flow, resume_flow
from pgflow.web.actions import Action, Field, Outcome, actions_for, register
from pgflow.web.dashboard import dashboard_of

REASON = Field("reason", "Reason (shown on the flow page)")


def _pause(target: str, form: Mapping[str, str]) -> Operation[list[Outcome]]:
    reason = form.get("reason", "").strip() or None
    state = yield from pause_flow(target, reason=reason)
    return [Outcome("done", state.pause_reason, flow_slug=target)]


def _resume(target: str, form: Mapping[str, str]) -> Operation[list[Outcome]]:
    yield from resume_flow(target)
    return [Outcome("done", None, flow_slug=target)]


register(Action("pause_flow", "flow", "Pause flow", "Pause {target}? No worker claims its tasks until it is resumed; "
                "running tasks finish, new runs wait in the queue.", _pause,
                shown=lambda flow: not flow.get("paused"), fields=(REASON,), danger=True))
register(Action("resume_flow", "flow", "Resume flow", "Resume {target}? Workers claim its queued tasks again, in "
                "queue order.", _resume, shown=lambda flow: bool(flow.get("paused"))))


async def flow_controls(request: Request, slug: str) -> dict[str, Any]:
    """What the flow page shows of flow control: its state (limits, pause, running, queued) and
    the pause / resume button."""
    row = await dashboard_of(request).store.one("flow_control_state", flow_slug=slug)
    state = FlowControl.from_row(row) if row is not None else FlowControl(flow_slug=slug)
    return {"flow_control": state, "flow_actions": actions_for(request, "flow", {"paused": state.paused})}
