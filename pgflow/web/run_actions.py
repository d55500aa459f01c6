"""The dashboard's run-control actions (declared with :mod:`pgflow.web.actions`): cancel, retry
and resume on a run page; the same in bulk on the runs list, for the runs its filters match;
and what the run page shows of run control: its buttons, its lineage, its audit rows."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode
from uuid import UUID

from starlette.requests import Request

from pgflow.db import Operation
from pgflow.errors import InvalidInput
from pgflow.models import BulkResult, RunStatus
from pgflow.ops.bulk import cancel_runs, resume_runs, retry_runs
from pgflow.ops.cancel import cancel_run
from pgflow.ops.common import run_uuid
from pgflow.ops.resume import resume_run
from pgflow.ops.retry import retry_run
from pgflow.web.actions import Action, Field, Outcome, Preview, actions_for, register
from pgflow.web.dashboard import dashboard_of
from pgflow.web.filters import RunFilter

REASON = Field("reason", "Reason (stored with the run)")
FORCE = Field("force", "Resume even if the flow's steps changed since the run", kind="checkbox")


def _cancel(target: str, form: Mapping[str, str]) -> Operation[list[Outcome]]:
    reason = form.get("reason", "").strip() or None
    result = yield from cancel_run(target, reason=reason)
    if result.cancelled:
        return [Outcome("done", reason, run_id=result.run_id)]
    return [Outcome("nothing to do", f"already over ({result.status.value})", run_id=result.run_id)]


def _retry(target: str, form: Mapping[str, str]) -> Operation[list[Outcome]]:
    new = yield from retry_run(target)
    return [Outcome("done", None, run_id=run_uuid(target), new_run_id=new)]


def _resume(target: str, form: Mapping[str, str]) -> Operation[list[Outcome]]:
    force = form.get("force") == "on"
    new = yield from resume_run(target, force=force)
    return [Outcome("done", "forced" if force else None, run_id=run_uuid(target), new_run_id=new)]


def _is(status: str) -> Any:
    return lambda run: run.get("status") == status


register(Action("cancel", "run", "Cancel run", "Cancel run {target}? It ends at once as a cancelled (failed) run; "
                "its unfinished tasks are cancelled and running handlers stopped.",
                _cancel, shown=_is(RunStatus.STARTED.value), fields=(REASON,), danger=True))
register(Action("retry", "run", "Retry run", "Retry run {target}? A new run of the same flow starts with the same "
                "input, from the beginning.", _retry, shown=_is(RunStatus.FAILED.value)))
register(Action("resume", "run", "Resume run", "Resume run {target}? A new run starts that reuses the output of "
                "every task this run completed and runs only the rest.", _resume,
                shown=_is(RunStatus.FAILED.value), fields=(FORCE,)))


# ---- bulk: the runs list's filters (flow, status, time range) --------------------------------


def _filter_args(target: str) -> dict[str, Any]:
    """The bulk operations' arguments from a bulk target: flow, status, and the time window as
    absolute times (fixed when the runs list was shown: what was seen is what is acted on)."""
    given = dict(parse_qsl(target))
    unknown = set(given) - {"flow", "status", "since", "until"}
    if unknown:
        raise InvalidInput(f"a bulk action takes the flow, status and time filters, not {', '.join(sorted(unknown))}")
    args: dict[str, Any] = {"flow": given.get("flow"), "status": given.get("status")}
    for name in ("since", "until"):
        try:
            args[name] = datetime.fromisoformat(given[name]) if name in given else None
        except ValueError:
            raise InvalidInput(f"{name}={given[name]!r} is not an ISO time: open the action from the runs list") from None
    return args


BULK_OPERATIONS: dict[str, Callable[..., Operation[BulkResult]]] = {
    "cancel": cancel_runs, "retry": retry_runs, "resume": resume_runs}


def _bulk(action: str) -> Any:
    operation = BULK_OPERATIONS[action]

    def preview(target: str) -> Operation[Preview]:
        found: BulkResult = yield from operation(**_filter_args(target), dry_run=True)
        if found.nothing_to_do:
            return Preview(f"No run matches these filters: nothing to {action}.", possible=False)
        return Preview(f"{found.count} run{'s' * (found.count != 1)} match now (newest first; at most this many "
                       f"will be acted on).", {"expected": str(found.count)})

    def perform(target: str, form: Mapping[str, str]) -> Operation[list[Outcome]]:
        try:
            limit = max(1, int(form.get("expected", "")))
        except ValueError:
            raise InvalidInput("the form does not say how many runs were confirmed: open the action again") from None
        extra: dict[str, Any] = {"reason": form.get("reason", "").strip() or None} if action == "cancel" else {}
        if action == "resume":
            extra["force"] = form.get("force") == "on"
        result: BulkResult = yield from operation(**_filter_args(target), **extra, limit=limit)
        news = dict(zip(result.run_ids, result.new_run_ids))
        return ([Outcome("done", extra.get("reason"), run_id=r, new_run_id=news.get(r)) for r in result.run_ids]
                + [Outcome("nothing to do", why, run_id=r) for r, why in result.not_done])

    return preview, perform


def _bulk_shown(status: str) -> Any:
    return lambda params: params.get("status") in (None, status)


for _name, _status, _label, _fields in (
    ("cancel", RunStatus.STARTED.value, "Cancel matching runs", (REASON,)),
    ("retry", RunStatus.FAILED.value, "Retry matching failed runs", ()),
    ("resume", RunStatus.FAILED.value, "Resume matching failed runs", (FORCE,)),
):
    _preview, _perform = _bulk(_name)
    register(Action(f"bulk_{_name}", "runs", _label,
                    f"{_name.capitalize()} every {'running' if _name == 'cancel' else 'failed'} run the runs list's "
                    f"filters match ({{target}})"
                    + ("" if _name == "cancel" else ", except runs that were retried or resumed before") + "?",
                    _perform, shown=_bulk_shown(_status), fields=_fields, danger=_name == "cancel", preview=_preview))


def bulk_controls(request: Request, found: RunFilter) -> dict[str, Any]:
    """The runs list's bulk buttons for its filters, and their ``?target=`` (the filters with the
    time window made absolute). None with a type filter, which the bulk operations do not take."""
    if found.type is not None:
        return {"bulk_actions": [], "bulk_target": ""}
    since, until = found.window(dashboard_of(request).renderer.tz, datetime.now(timezone.utc))
    target = urlencode({k: v for k, v in (("flow", found.flow), ("status", found.status),
                                          ("since", since and since.isoformat()), ("until", until and until.isoformat()))
                        if v})
    return {"bulk_actions": actions_for(request, "runs", {"status": found.status}), "bulk_target": target}


async def run_controls(request: Request, run: Mapping[str, Any]) -> dict[str, Any]:
    """What the run page shows of run control: buttons, the runs that retried it, its audit."""
    store = dashboard_of(request).store
    run_id: UUID = run["run_id"]
    return {
        "run_actions": actions_for(request, "run", run),
        "retries": await store.all("actions_retries_of_run", run_id=run_id),
        "audit": await store.all("actions_of_run", run_id=run_id, limit=50),
    }
