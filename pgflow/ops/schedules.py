"""Operations on schedules: create, list, pause, resume, run now, sync from code, fire a tick.

Ticks are computed here, in Python, with :class:`pgflow.Cron` (cronsim), and written to
``pgflow.schedules.next_run_at``; SQL never parses cron expressions. The row is the truth: a
scheduler that claims a due row (``FOR UPDATE SKIP LOCKED``) advances ``next_run_at`` and starts
the run in the same transaction, so any number of schedulers start each tick exactly once.

``now`` parameters are for tests (a controllable clock); ``None`` means the database clock. The
clients leave them out of their methods (see ``pgflow.client``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypedDict
from uuid import UUID

from pgflow.db import Operation, Query
from pgflow.dsl import Flow
from pgflow.dsl.cron import Cron
from pgflow.dsl.validation import is_valid_slug, suggest_slug
from pgflow.errors import FlowNotFound, ScheduleError
from pgflow.models import Schedule
from pgflow.ops.common import count_of, json_text, slug_of
from pgflow.types import FlowRef, Json

BACKENDS = ("builtin", "pg_cron", "auto")
# with catch_up="none", a tick found up to this late still runs; older ones count as missed
ON_TIME = timedelta(seconds=60)
_UTC_NAMES = {"UTC", "GMT", "ETC/UTC", "ETC/GMT", "UCT", "Z", "ZULU", "UNIVERSAL", "GREENWICH"}


@dataclass(frozen=True)
class TickPlan:
    """What to do with a due schedule: the tick to run (None: skip) and the next tick."""

    tick_at: datetime | None
    catch_up_from: datetime | None
    next_run_at: datetime


@dataclass(frozen=True)
class Fired:
    """One due schedule handled by the scheduler."""

    slug: str
    due_at: datetime
    tick_at: datetime | None
    run_id: UUID | None
    next_run_at: datetime | None
    catch_up_from: datetime | None = None
    error: str | None = None


@dataclass
class SyncReport:
    """What syncing the schedules declared in code changed."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    readopted: list[str] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


def plan_tick(cron: Cron, due_at: datetime, now: datetime, catch_up: str) -> TickPlan:
    """Apply the missed-ticks policy to a schedule due at ``due_at`` (<= ``now``)."""
    if catch_up == "all":
        return TickPlan(due_at, None, cron.next_after(due_at))
    latest = max(cron.last_at_or_before(now), due_at)
    next_run_at = cron.next_after(latest)
    if catch_up == "one":
        return TickPlan(latest, due_at if due_at < latest else None, next_run_at)
    if now - latest <= ON_TIME:  # "none": only a tick that is (nearly) on time runs
        return TickPlan(latest, None, next_run_at)
    return TickPlan(None, None, next_run_at)


# --- the scheduler's operation -----------------------------------------------------------------

def fire_next_due(now: datetime | None = None) -> Operation[Fired | None]:
    """Claim the most overdue built-in schedule, advance it and start its run: one transaction.

    Returns None when nothing is due. Drive it with pgflow.db.drive_sync/drive_async, which
    run consecutive queries in one transaction.
    """
    row = yield Query.one("schedules_claim_due", now=now)
    if row is None:
        return None
    slug, due_at = row["schedule_slug"], row["next_run_at"]
    try:
        cron = Cron(row["expression"], timezone=row["timezone"], catch_up=row["catch_up"])
        plan = plan_tick(cron, due_at, row["now"], cron.catch_up)
    except ScheduleError as exc:  # a row edited by hand, or a time zone this machine lacks
        error = f"paused by the scheduler: {exc}"
        yield Query.execute("schedules_disable_broken", schedule_slug=slug, error=error).and_commit()
        return Fired(slug, due_at, None, None, None, error=error)
    # its result is not read: the driver sends it with the start (or with the COMMIT)
    yield Query("schedules_advance", {"schedule_slug": slug, "due_at": due_at, "next_run_at": plan.next_run_at}, "none")
    run_id = None
    if plan.tick_at is not None:
        run_id = yield Query.scalar(
            "schedules_start_scheduled_flow",
            schedule_slug=slug, tick_at=plan.tick_at, catch_up_from=plan.catch_up_from, trigger="tick",
        ).and_commit()
    return Fired(slug, due_at, plan.tick_at, run_id, plan.next_run_at, plan.catch_up_from)


def seconds_until_next_due(now: datetime | None = None) -> Operation[float | None]:
    seconds: float | None = yield Query.scalar("schedules_next_due", now=now).and_commit()
    return seconds


# --- managing schedules ------------------------------------------------------------------------

def schedule(
    flow: FlowRef,
    cron: str | Cron,
    input: Json = None,
    timezone: str | None = None,
    *,
    slug: str | None = None,
    catch_up: str | None = None,
    backend: str = "builtin",
    now: datetime | None = None,
) -> Operation[Schedule]:
    """Run ``flow`` (Flow, Job or slug, already compiled) on a cron schedule; returns the schedule.

    ``cron`` is an expression (``"0 9 * * *"``, ``"@hourly"``) or a :class:`pgflow.Cron`;
    ``input``/``timezone``/``catch_up`` override its parts. ``slug`` names the schedule (default:
    the flow's slug; a second schedule of a flow needs its own). ``backend``: ``"builtin"`` (the
    workers' scheduler), ``"pg_cron"`` (a pg_cron job ``pgflow_<slug>``) or ``"auto"``.
    Scheduling an existing slug replaces that schedule. Raises ScheduleError.
    """
    flow_slug = slug_of(flow)
    found = Cron.coerce(cron)
    assert found is not None
    spec = found.replace(input=input, timezone=timezone, catch_up=catch_up)
    slug = slug or flow_slug
    if not is_valid_slug(slug):
        raise ScheduleError(f"invalid schedule slug {slug!r}: a schedule's slug follows the rules of a flow's "
                            f"(letters, digits and single underscores, starting with a letter); "
                            f"pass e.g. slug={suggest_slug(str(slug))!r}")
    if not (yield Query.scalar("schedules_flow_exists", flow_slug=flow_slug)):
        raise FlowNotFound(flow_slug)
    existing = yield Query.one("schedules_select_for_update", schedule_slug=slug)
    if existing is not None and existing["source"] == "code" and existing["orphaned_at"] is None:
        raise ScheduleError(
            f"schedule {slug!r} is declared in code (cron= on flow {existing['flow_slug']!r}); change it there, "
            f"or pass slug= to add a second schedule for the flow"
        )
    return (yield from _store(slug, flow_slug, spec, backend, "api", existing, now))


def _store(slug: str, flow_slug: str, spec: Cron, backend: str, source: str,
           existing: dict[str, Any] | None, now: datetime | None, enabled: bool = True) -> Operation[Schedule]:
    backend = yield from _resolve_backend(backend, spec)
    next_run_at = None
    if backend == "builtin":
        pending = existing["next_run_at"] if existing is not None else None
        same_ticks = existing is not None and pending is not None and (
            existing["expression"], existing["timezone"]) == (spec.expression, spec.timezone)
        # an unchanged expression keeps its pending tick; a new one starts from now
        next_run_at = pending if same_ticks else spec.next_after((yield Query.scalar("schedules_now", now=now)))
    yield Query.execute(
        "schedules_upsert",
        schedule_slug=slug, flow_slug=flow_slug, expression=spec.expression, timezone=spec.timezone,
        input=json_text(spec.input, "schedule input"), catch_up=spec.catch_up, backend=backend, source=source,
        enabled=enabled, next_run_at=next_run_at,
    )
    if backend == "pg_cron":
        refused = yield Query.scalar("schedules_pg_cron_install", job_name=pg_cron_job_name(slug),
                                     fields=spec.fields, schedule_slug=slug)
        if refused:
            raise ScheduleError(
                f"pg_cron refused the expression {spec.expression!r} of schedule {slug!r} ({refused}); "
                f"use the built-in scheduler for it (backend='builtin'), which reads every cronsim expression"
            )
    elif existing is not None and existing["backend"] == "pg_cron":
        yield Query.all("schedules_pg_cron_remove", job_name=pg_cron_job_name(slug))
    return (yield from get_schedule(slug, now))


def pg_cron_job_name(slug: str) -> str:
    """The pg_cron job of a schedule: ``pgflow_<slug>``."""
    return f"pgflow_{slug}"


class ScheduledRun(TypedDict):
    """A run a schedule started (:func:`schedule_history`)."""

    run_id: UUID
    schedule_slug: str
    tick_at: datetime  # the tick it ran for
    catch_up_from: datetime | None  # the first missed tick it stands for (catch_up="one")
    trigger: str  # tick | manual
    backend: str  # builtin | pg_cron
    flow_slug: str
    status: str  # the run's status
    started_at: datetime | None
    completed_at: datetime | None
    failed_at: datetime | None


class PgCronState(TypedDict):
    version: str | None  # the extension's version; None: pg_cron is not installed here
    timezone: str  # the zone pg_cron reads schedules in (cron.timezone, GMT before pg_cron 1.5)


def pg_cron_state() -> Operation[PgCronState]:
    """``{"version": "1.4-1" | None, "timezone": "GMT"}`` for pg_cron in this database."""
    row = yield Query.one("schedules_pg_cron_state")
    return PgCronState(version=row["version"], timezone=row["timezone"])


def _resolve_backend(backend: str, spec: Cron) -> Operation[str]:
    if backend not in BACKENDS:
        raise ScheduleError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, not {backend!r}")
    if backend == "builtin":
        return backend
    state = yield from pg_cron_state()
    if state["version"] is None:
        if backend == "auto":
            return "builtin"
        raise ScheduleError(
            "backend='pg_cron' needs the pg_cron extension in this database: add pg_cron to "
            "shared_preload_libraries, set cron.database_name to this database, restart, then "
            "CREATE EXTENSION pg_cron; or use the built-in scheduler (backend='builtin')"
        )
    if not _same_zone(spec.timezone, state["timezone"]):
        if backend == "auto":
            return "builtin"
        raise ScheduleError(
            f"pg_cron on this server reads schedules in {state['timezone']} (cron.timezone), not in "
            f"{spec.timezone}; use backend='builtin' for this schedule, or set cron.timezone = "
            f"'{spec.timezone}' (pg_cron 1.5 or newer)"
        )
    return "pg_cron"


def _same_zone(a: str, b: str) -> bool:
    return a == b or (a.upper() in _UTC_NAMES and b.upper() in _UTC_NAMES)


def _locked(slug: str) -> Operation[dict[str, Any]]:
    row = yield Query.one("schedules_select_for_update", schedule_slug=slug)
    if row is None:
        raise ScheduleError(f"no schedule named {slug!r}; see the schedules with `pgflow schedules list`")
    locked: dict[str, Any] = row
    return locked


def unschedule(slug: str) -> Operation[None]:
    """Delete a schedule (and its pg_cron job); the runs it started stay, with their marker."""
    yield from _locked(slug)
    backend = yield Query.scalar("schedules_delete", schedule_slug=slug)
    if backend == "pg_cron":
        yield Query.all("schedules_pg_cron_remove", job_name=pg_cron_job_name(slug))


def pause_schedule(slug: str) -> Operation[Schedule]:
    """Stop starting runs until resumed (stored in the database: every worker sees it)."""
    yield from _locked(slug)
    yield Query.execute("schedules_set_enabled", schedule_slug=slug, enabled=False, next_run_at=None)
    return (yield from get_schedule(slug))


def resume_schedule(slug: str, now: datetime | None = None) -> Operation[Schedule]:
    """Start runs again from the next tick on (ticks of the paused time are not caught up)."""
    row = yield from _locked(slug)
    clock = yield Query.scalar("schedules_now", now=now)
    cron = Cron(row["expression"], timezone=row["timezone"])
    next_run_at = cron.next_after(clock) if row["backend"] == "builtin" else None
    yield Query.execute("schedules_set_enabled", schedule_slug=slug, enabled=True, next_run_at=next_run_at)
    return (yield from get_schedule(slug, now))


def set_schedule_backend(slug: str, backend: str, now: datetime | None = None) -> Operation[Schedule]:
    """Move a schedule to ``"builtin"`` or ``"pg_cron"``."""
    row = yield from _locked(slug)
    spec = Cron(row["expression"], input=row["input"], timezone=row["timezone"], catch_up=row["catch_up"])
    return (yield from _store(slug, row["flow_slug"], spec, backend, row["source"], row, now, row["enabled"]))


def run_schedule_now(slug: str) -> Operation[UUID]:
    """Start a run of the schedule now (marked 'manual'); its timetable is unchanged."""
    yield from _locked(slug)
    clock = yield Query.scalar("schedules_now", now=None)
    run_id = yield Query.scalar("schedules_start_scheduled_flow", schedule_slug=slug, tick_at=clock,
                                catch_up_from=None, trigger="manual")
    if run_id is None:
        row = yield from _locked(slug)
        raise ScheduleError(f"schedule {slug!r} could not start a run: {row['last_error']}")
    started: UUID = run_id
    return started


def get_schedule(slug: str, now: datetime | None = None) -> Operation[Schedule]:
    """One schedule with its status, next run time and description; ScheduleError when there is none."""
    row = yield Query.one("schedules_select", schedule_slug=slug, now=now)
    if row is None:
        raise ScheduleError(f"no schedule named {slug!r}; see the schedules with `pgflow schedules list`")
    return Schedule.from_row(row)


def list_schedules(now: datetime | None = None) -> Operation[list[Schedule]]:
    """Every schedule with its status, next run time and a description ("every day at 09:00 UTC")."""
    rows = yield Query.all("schedules_select", schedule_slug=None, now=now)
    return [Schedule.from_row(r) for r in rows]


def schedule_history(slug: str, limit: int = 50) -> Operation[list[ScheduledRun]]:
    """The runs a schedule started: run id, tick, trigger and run status, newest tick first."""
    count_of(limit, "limit")
    return list((yield Query.all("schedules_history", schedule_slug=slug, limit=limit)))


# --- schedules declared in code ----------------------------------------------------------------

def sync_declared_schedules(flows: Iterable[Flow], backend: str = "builtin",
                            now: datetime | None = None) -> Operation[SyncReport]:
    """Make the database match the ``cron=`` of ``flows`` (a worker's flows, already compiled).

    A declared schedule is created, or updated when its expression, time zone, input or policy
    changed (its pause state is kept). A code schedule of one of these flows that the code no
    longer declares is *orphaned*: paused and listed as such, never silently kept running.
    A schedule created with client.schedule() under the same slug wins and is reported.
    """
    flows = list(flows)
    report = SyncReport()
    yield Query.scalar("schedules_lock_sync")
    slugs = [slug_of(f) for f in flows]
    rows = {r["schedule_slug"]: r for r in (yield Query.all("schedules_select_by_flows", flow_slugs=slugs))}
    for flow in flows:
        spec: Cron | None = getattr(flow, "cron", None)
        slug = slug_of(flow)
        if spec is None:
            for row in rows.values():
                if row["flow_slug"] == slug and row["source"] == "code" and row["orphaned_at"] is None:
                    yield Query.execute("schedules_orphan", schedule_slug=row["schedule_slug"], now=now)
                    report.orphaned.append(row["schedule_slug"])
            continue
        row = rows.get(slug)
        if row is None:
            yield from _store(slug, slug, spec, backend, "code", None, now)
            report.created.append(slug)
        elif row["source"] != "code":
            report.conflicts.append(slug)
        elif row["orphaned_at"] is not None:
            yield from _store(slug, slug, spec, row["backend"], "code", row, now)
            report.readopted.append(slug)
        elif _declared(row) != spec.to_dict() or row["flow_slug"] != slug:
            yield from _store(slug, slug, spec, row["backend"], "code", row, now, row["enabled"])
            report.updated.append(slug)
        else:
            report.unchanged.append(slug)
    return report


def _declared(row: dict[str, Any]) -> dict[str, Any]:
    return {"expression": row["expression"], "input": row["input"], "timezone": row["timezone"],
            "catch_up": row["catch_up"]}
