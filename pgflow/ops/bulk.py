"""Bulk run control: ``cancel_runs``, ``retry_runs`` and ``resume_runs`` on every run a filter
matches (the filter of ``list_runs``), in bounded batches.

Each batch is its own short transaction: one statement reads the next ``batch_size`` matching
runs after a keyset cursor (newest first, ``pgflow._select_runs``), one more acts on them
(``pgflow._act_on_runs``: cancel_run, retry_run or resume_run per run, a run that cannot be
acted on rolled back alone and reported). So 100,000 runs never hold one lock for long, and
the new runs a retry starts are never met by a later batch (they are newer than the cursor).
``dry_run=True`` pages through the same filter and acts on nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from pgflow import telemetry
from pgflow.db import Operation, Query
from pgflow.errors import InvalidInput
from pgflow.models import BulkResult, RunStatus
from pgflow.ops.common import count_of
from pgflow.ops.run_filter import filter_params
from pgflow.types import FlowRef, Json

DEFAULT_BATCH_SIZE = 200
#: the status of the runs each action applies to
_ACTS_ON = {"cancel": RunStatus.STARTED.value, "retry": RunStatus.FAILED.value, "resume": RunStatus.FAILED.value}


def _bulk(action: str, params: dict[str, Any], *, dry_run: bool, limit: int | None, batch_size: int,
          reason: str | None = None, force: bool = False, again: bool = True) -> Operation[BulkResult]:
    wanted = _ACTS_ON[action]
    if params["status"] not in (None, wanted):
        raise InvalidInput(f"{action}_runs acts on {wanted} runs only, but status={params['status']!r} was given; "
                           f"leave status out (or give {wanted!r})")
    params = {**params, "status": wanted}
    count_of(batch_size, "batch_size")
    if limit is not None:
        count_of(limit, "limit")
    acted: list[UUID] = []
    new: list[UUID] = []
    not_done: list[tuple[UUID, str]] = []
    cursor: tuple[datetime | None, UUID | None] = (None, None)
    seen = 0
    while limit is None or seen < limit:
        size = batch_size if limit is None else min(batch_size, limit - seen)
        select = Query.all("bulk_select_runs", **params, before_started_at=cursor[0], before_run_id=cursor[1],
                           limit=size)
        # a dry run's batch is one read; else the read and the acting are one short transaction
        rows = yield (select.and_commit() if dry_run else select)
        batch = [r["run_id"] for r in rows if again or not r["started_again"]]
        seen += len(batch)
        if dry_run:
            acted += batch
        else:  # an empty batch still ends the transaction
            done = yield Query.all("bulk_act_on_runs", action=action, run_ids=batch, reason=reason,
                                   force=force).and_commit()
            for row in done:
                if row["done"]:
                    acted.append(row["run_id"])
                    if row["new_run_id"] is not None:
                        new.append(row["new_run_id"])
                else:
                    not_done.append((row["run_id"], str(row["message"])))
        if len(rows) < size:
            break
        cursor = (rows[-1]["started_at"], rows[-1]["run_id"])
    result = BulkResult(action=action, dry_run=dry_run, run_ids=tuple(acted), new_run_ids=tuple(new),
                        not_done=tuple(not_done))
    telemetry.execute("runs.bulk", {"count": result.count, "not_done": len(not_done)},
                      {"action": action, "dry_run": dry_run, "filter": {k: v for k, v in params.items() if v is not None}})
    return result


def cancel_runs(
    flow: FlowRef | None = None,
    status: str | None = None,
    *,
    since: datetime | timedelta | None = None,
    until: datetime | timedelta | None = None,
    input_match: Json | None = None,
    reason: str | None = None,
    dry_run: bool = False,
    limit: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Operation[BulkResult]:
    """Cancel every run still going that the filter matches (the filters of ``list_runs``:
    ``flow``, ``status`` - only "started"/"running" makes sense -, ``since``, ``until``,
    ``input_match``), as ``cancel_run`` does each, ``reason`` recorded on each. ``dry_run``: list
    them and change nothing. ``limit``: at most that many runs. In batches of ``batch_size``,
    each its own transaction. Returns a :class:`~pgflow.models.BulkResult` (``run_ids`` the
    cancelled runs; ``nothing_to_do`` when none matched)."""
    if reason is not None and not isinstance(reason, str):
        raise InvalidInput(f"reason must be a string or None, got {type(reason).__name__}")
    params = filter_params(flow, status, since, until, input_match)
    return (yield from _bulk("cancel", params, dry_run=dry_run, limit=limit, batch_size=batch_size, reason=reason))


def retry_runs(
    flow: FlowRef | None = None,
    status: str | None = None,
    *,
    since: datetime | timedelta | None = None,
    until: datetime | timedelta | None = None,
    input_match: Json | None = None,
    again: bool = False,
    dry_run: bool = False,
    limit: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Operation[BulkResult]:
    """Retry every failed (or cancelled) run the filter matches (the filters of ``list_runs``),
    as ``retry_run`` does each: ``new_run_ids`` holds the new runs. A run that a retry or resume
    already started again is skipped, so calling this twice does not retry twice (``again=True``
    retries those too). ``dry_run``, ``limit`` and ``batch_size`` as in ``cancel_runs``."""
    params = filter_params(flow, status, since, until, input_match)
    return (yield from _bulk("retry", params, dry_run=dry_run, limit=limit, batch_size=batch_size,
                             again=bool(again)))


def resume_runs(
    flow: FlowRef | None = None,
    status: str | None = None,
    *,
    since: datetime | timedelta | None = None,
    until: datetime | timedelta | None = None,
    input_match: Json | None = None,
    force: bool = False,
    again: bool = False,
    dry_run: bool = False,
    limit: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Operation[BulkResult]:
    """Resume every failed (or cancelled) run the filter matches, as ``resume_run`` (with
    ``force``) does each, reusing what each completed. Runs whose flow changed (without
    ``force``) are left and listed in ``not_done``. Runs already started again are skipped unless
    ``again=True``. ``dry_run``, ``limit`` and ``batch_size`` as in ``cancel_runs``."""
    params = filter_params(flow, status, since, until, input_match)
    return (yield from _bulk("resume", params, dry_run=dry_run, limit=limit, batch_size=batch_size,
                             force=bool(force), again=bool(again)))
