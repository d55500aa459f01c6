"""Operations on runs: start (now, later, and wait), read, list, prune."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
import re
from uuid import UUID

from pgflow.db import ClientOperation, Operation, Query, Snapshot, WaitForEvent, unlisten
from pgflow.errors import InvalidInput, RunFailed, RunNotFound, RunTimeout
from pgflow.events import ends_run, run_channel
from pgflow.models import Run, RunStatus, StepState, StepTask, TaskStatus
from pgflow.ops.due import due_times_of, due_times_query, with_due_times
from pgflow.ops.flow_control import check_priority, concurrency_key_of
from pgflow.ops.idempotency import DEFAULT_IDEMPOTENCY_TTL, check_idempotency, follow_existing_run
from pgflow.ops.common import check_flow_input, count_of, json_text, run_uuid, seconds_of, slug_of
from pgflow.ops.run_filter import filter_params
from pgflow.ops.waits import check_signal_key
# the run statuses a person may give, defined with the filter (re-exported: the CLI and web use them)
from pgflow.ops.run_filter import RUN_STATUS_ALIASES as RUN_STATUS_ALIASES
from pgflow.ops.run_filter import RUN_STATUSES as RUN_STATUSES
from pgflow.ops.run_filter import run_status_of as run_status_of
from pgflow.tracing import capture as capture_trace_context
from pgflow.types import FlowRef, Json, RunId

_ID_PART = re.compile(r"^[0-9a-f-]{4,36}$")


def short_id(value: object) -> str:
    """The last 8 characters of an id: what the dashboard and the worker's log show. Run ids are
    version 7 UUIDs whose first characters are the time, shared by every run of the same
    minute or so; their random end tells them apart (and ``find_run_id`` takes it back)."""
    return str(value)[-8:] if value else ""


def new_run_id() -> Operation[UUID]:
    """A new run id made by the database as ``start_flow`` makes them (a version 7 UUID: the
    time first, so ids sort by creation); for callers that subscribe before they start a run."""
    row = yield Query.one("client_new_run_id").and_commit()
    run_id: UUID = row["run_id"]
    return run_id


def find_run_id(part: RunId) -> Operation[UUID]:
    """The run whose id is ``part``, or starts or ends with it (at least 4 characters, e.g. the
    last 8 that the dashboard and the worker's log show). InvalidInput when several runs match,
    RunNotFound when none does."""
    if isinstance(part, UUID):
        return part
    text = str(part).strip().lower()
    try:
        return UUID(text)
    except ValueError:
        pass
    if not _ID_PART.match(text):
        raise InvalidInput(f"{part!r} is not a run id: give the whole id or at least 4 of its first or last "
                           f"characters (hex digits and dashes)")
    rows = yield Query.all("client_find_run_ids", part=text, limit=5).and_commit()
    if not rows:
        raise RunNotFound(part, f"no run id starts or ends with {text!r} (the run may have been pruned)")
    if len(rows) > 1:
        shown = ", ".join(str(r["run_id"]) for r in rows[:4]) + (", ..." if len(rows) > 4 else "")
        raise InvalidInput(f"{part!r} matches {len(rows)} runs ({shown}); give more characters of the id")
    found: UUID = rows[0]["run_id"]
    return found


def start_flow(
    flow: FlowRef,
    input: Json,
    run_id: RunId | None = None,
    *,
    idempotency_key: str | None = None,
    idempotency_ttl: float | timedelta | None = DEFAULT_IDEMPOTENCY_TTL,
    signal_key: str | None = None,
    priority: int | None = None,
) -> Operation[UUID]:
    """Start a run of ``flow`` (Flow, Job or slug) with a JSON ``input``; returns the run id.

    ``run_id`` chooses the run's id (a UUID or its text); by default the database makes one.
    ``idempotency_key`` (1-200 characters): a start of the same flow with a key that a run
    already holds returns that run's id and starts nothing, even from concurrent processes. The
    key is kept while the run is active and for ``idempotency_ttl`` after it ends (a timedelta or
    seconds; default 24 hours; ``None``: forever). ``signal_key`` (1-200 characters): a key that
    signals can name the run by instead of its id (``Client.signal_by_key``), e.g. an order id.
    ``priority`` (0-1000, default 0): a Python worker claims the flow's tasks of higher-priority
    runs first; equal priorities keep queue order (docs/guides/flow-control.md).
    """
    if idempotency_key is not None:
        return (yield from _start_keyed(flow, input, idempotency_key, idempotency_ttl, run_id=run_id,
                                        signal_key=signal_key, priority=priority))
    check_flow_input(flow, input)
    yield from start_options(signal_key=check_signal_key(signal_key), priority=check_priority(priority),
                             concurrency_key=concurrency_key_of(flow, input))
    row = yield Query.one(
        "client_start_flow",
        flow_slug=slug_of(flow), input=json_text(input), run_id=None if run_id is None else run_uuid(run_id),
    ).and_commit()
    run_id_: UUID = row["run_id"]
    return run_id_


def start_options(**options: Json) -> Operation[None]:
    """Send the options given (not None) of the run that the next statement starts.

    They fill pgflow-py's own columns of ``pgflow.runs`` through ``pgflow._run_options()`` in SQL,
    so upstream's ``start_flow`` keeps its signature; ``start_flow`` clears them once the run
    exists. No options, no statement: a start without them costs nothing more.
    """
    given = {name: value for name, value in options.items() if value is not None}
    trace_context = capture_trace_context()  # None unless an OpenTelemetry span is current
    if trace_context is not None:
        given["trace_context"] = trace_context
    if given:
        yield Query("client_set_run_options", {"options": json_text(given)}, "none")


def _start_keyed(flow: FlowRef, input: Json, key: str, ttl: float | timedelta | None, run_id: RunId | None = None,
                 start_at: datetime | None = None, delay: float | None = None,
                 signal_key: str | None = None, priority: int | None = None) -> Operation[UUID]:
    key, ttl_seconds = check_idempotency(key, ttl)
    check_flow_input(flow, input)
    yield from start_options(signal_key=check_signal_key(signal_key), priority=check_priority(priority),
                             concurrency_key=concurrency_key_of(flow, input))
    row = yield Query.one(
        "client_start_flow_idempotent", flow_slug=slug_of(flow), input=json_text(input), key=key, ttl=ttl_seconds,
        start_at=start_at, delay=delay, run_id=None if run_id is None else run_uuid(run_id),
    ).and_commit()
    run_id_: UUID = row["run_id"]
    return run_id_




def start_flow_and_wait(
    flow: FlowRef,
    input: Json,
    timeout: float = 60.0,
    *,
    idempotency_key: str | None = None,
    idempotency_ttl: float | timedelta | None = DEFAULT_IDEMPOTENCY_TTL,
) -> ClientOperation[Run]:
    """Start a run and wait until it finishes; returns the completed run with its step states.

    Waits on the database's events (LISTEN/NOTIFY), not by polling. Raises RunFailed
    (``.run`` holds the failed run) or RunTimeout after ``timeout`` seconds (the run goes on).
    With ``idempotency_key`` (as in :func:`start_flow`), a key's existing run is waited for
    instead of starting a new one.
    """
    # the run's channel is LISTENed to in the transaction that starts the run (the driver sends
    # both in one round trip), so its run:completed / run:failed event cannot be missed; the
    # database makes the run id (version 7, like start_flow's) and passes it from one statement
    # to the next in a transaction-local setting
    timeout = max(0.0, seconds_of(timeout, "timeout"))
    keyed = None if idempotency_key is None else check_idempotency(idempotency_key, idempotency_ttl)
    check_flow_input(flow, input)
    key = concurrency_key_of(flow, input)
    yield Query("client_listen_new_run", {}, "none")
    yield from start_options(concurrency_key=key)
    if keyed is None:
        row = yield Query.one("client_start_new_run", flow_slug=slug_of(flow), input=json_text(input)).and_commit()
    else:
        row = yield Query.one("client_start_new_run_idempotent", flow_slug=slug_of(flow), input=json_text(input),
                              key=keyed[0], ttl=keyed[1]).and_commit()
    run_id: UUID = row["run_id"]
    channel = run_channel(run_id)
    status = row["status"]
    if keyed is not None and run_id != row["new_run_id"]:  # the key's run, started before
        status = yield from follow_existing_run(row["new_run_id"], run_id)
    if status == RunStatus.STARTED:
        yield WaitForEvent(channel, until=ends_run, timeout=timeout)
    else:  # finished inside start_flow (every step skipped or taskless)
        yield unlisten(channel)
    run = yield from get_run_with_states(run_id)
    if run.status == RunStatus.FAILED:
        raise RunFailed(run)
    if run.status != RunStatus.COMPLETED:
        raise RunTimeout(run_id, timeout, run)
    return run


def enqueue(
    job: FlowRef,
    input: Json,
    delay_seconds: float | timedelta | None = None,
    scheduled_at: datetime | None = None,
    *,
    idempotency_key: str | None = None,
    idempotency_ttl: float | timedelta | None = DEFAULT_IDEMPOTENCY_TTL,
    priority: int | None = None,
) -> Operation[UUID]:
    """Start a run of a job (or any flow) now, its first task visible after a delay or at a time.

    The run is stored at once (status "started"); workers see its first task only when it is
    due. ``scheduled_at`` must be timezone-aware (naive datetimes raise InvalidInput: the moment
    they name is ambiguous); a past time, or a delay <= 0, means now. The delay is measured on
    the database's clock. Returns the run id. ``idempotency_key`` and ``idempotency_ttl`` as in
    :func:`start_flow` (a key's existing run is returned whatever its due time); ``priority`` as
    in :func:`start_flow`.
    """
    if delay_seconds is not None and scheduled_at is not None:
        raise InvalidInput("give either delay_seconds or scheduled_at, not both")
    check_flow_input(job, input)
    delay = None if delay_seconds is None else seconds_of(delay_seconds, "delay_seconds")
    if scheduled_at is not None:
        if not isinstance(scheduled_at, datetime):
            raise InvalidInput(
                f"scheduled_at must be a datetime with a time zone, got {type(scheduled_at).__name__} {scheduled_at!r}"
            )
        if scheduled_at.tzinfo is None or scheduled_at.utcoffset() is None:
            raise InvalidInput(
                f"scheduled_at {scheduled_at.isoformat()} has no time zone, so the moment it names is ambiguous; "
                f"pass an aware datetime, e.g. datetime(2030, 1, 1, 9, 0, tzinfo=ZoneInfo('Europe/Paris')) "
                f"or datetime.now(timezone.utc) + timedelta(hours=1)"
            )
    if idempotency_key is not None:
        return (yield from _start_keyed(job, input, idempotency_key, idempotency_ttl,
                                        start_at=scheduled_at, delay=delay, priority=priority))
    yield from start_options(priority=check_priority(priority), concurrency_key=concurrency_key_of(job, input))
    row = yield Query.one(
        "client_start_flow_at",
        flow_slug=slug_of(job), input=json_text(input), start_at=scheduled_at, delay=delay, run_id=None,
    ).and_commit()
    run_id: UUID = row["run_id"]
    return run_id


def enqueue_in(job: FlowRef, input: Json, seconds: float | timedelta, *, idempotency_key: str | None = None,
               idempotency_ttl: float | timedelta | None = DEFAULT_IDEMPOTENCY_TTL,
               priority: int | None = None) -> Operation[UUID]:
    """:meth:`enqueue` with its first task due ``seconds`` from now (database clock)."""
    return (yield from enqueue(job, input, delay_seconds=seconds, idempotency_key=idempotency_key,
                               idempotency_ttl=idempotency_ttl, priority=priority))


def enqueue_at(job: FlowRef, input: Json, when: datetime, *, idempotency_key: str | None = None,
               idempotency_ttl: float | timedelta | None = DEFAULT_IDEMPOTENCY_TTL,
               priority: int | None = None) -> Operation[UUID]:
    """:meth:`enqueue` with its first task due at ``when`` (an aware datetime, any time zone)."""
    return (yield from enqueue(job, input, scheduled_at=when, idempotency_key=idempotency_key,
                               idempotency_ttl=idempotency_ttl, priority=priority))


def get_run(run_id: RunId) -> Operation[Run]:
    """One run (without step states); RunNotFound when there is none."""
    run_id = run_uuid(run_id)
    row = yield Query.one("client_select_run_with_due", run_id=run_id).and_commit()
    if row is None:
        raise RunNotFound(run_id)
    return Run.from_row(row)


def get_run_with_states(run_id: RunId) -> ClientOperation[Run]:
    """One run with ``.step_states`` (in step order, each with its ``.tasks``); RunNotFound when
    there is none.

    All are read from one snapshot: a run finishing meanwhile is seen either before or after,
    never half-way.
    """
    run_id = run_uuid(run_id)
    row, state_rows, task_rows, due_rows = yield Snapshot((
        Query.one("client_select_run", run_id=run_id),
        Query.all("client_select_step_states", run_id=run_id),
        Query.all("client_select_step_tasks", run_id=run_id),
        due_times_query(run_id),
    ))
    if row is None:
        raise RunNotFound(run_id)
    tasks: dict[str, list[StepTask]] = {}
    for task_row in task_rows:
        tasks.setdefault(task_row["step_slug"], []).append(StepTask.from_row(task_row))
    states = tuple(StepState.from_row(r, tuple(tasks.get(r["step_slug"], ()))) for r in state_rows)
    run = Run.from_row(row, states)
    active = [t for t in task_rows if t["status"] in (TaskStatus.QUEUED, TaskStatus.STARTED)]
    if run.status == RunStatus.STARTED and active:  # is it waiting for a delayed task? (due_at)
        run = with_due_times(run, active, due_times_of(due_rows))
    return run


def list_runs(flow: FlowRef | None = None, status: str | None = None, limit: int = 50, *,
              since: datetime | timedelta | None = None, until: datetime | timedelta | None = None,
              input_match: Json | None = None) -> Operation[list[Run]]:
    """Runs, newest first. Filters: ``flow``, ``status`` ("started" or "running", "completed",
    "failed"), ``since`` / ``until`` (started at or after / before: an aware datetime, or a
    timedelta meaning that long ago) and ``input_match`` (JSON the input contains, e.g.
    ``{"customer": 7}``). The bulk operations (``cancel_runs``, ...) take the same filters."""
    params = filter_params(flow, status, since, until, input_match)
    count_of(limit, "limit")
    rows = yield Query.all("client_select_runs", **params, limit=limit).and_commit()
    return [Run.from_row(r) for r in rows]


#: runs pruned per transaction by :func:`prune`
DEFAULT_PRUNE_BATCH = 10_000


def prune(older_than: timedelta, flows: Iterable[FlowRef] | None = None, *,
          batch_size: int | None = DEFAULT_PRUNE_BATCH) -> Operation[dict[str, int]]:
    """Delete runs that finished before ``older_than`` ago, with their step states, tasks and
    archived messages, and workers silent for as long; only of ``flows`` when given.
    Runs still going are never deleted. Returns the number of rows deleted per kind.

    ``batch_size`` runs at most per transaction (and at most that many archived messages per
    queue): a large history is pruned in many short transactions, which VACUUM can follow, rather
    than in one that holds it back for minutes. ``None``: everything in one transaction."""
    if not isinstance(older_than, timedelta) or older_than < timedelta(0):
        raise InvalidInput(f"older_than must be a timedelta >= 0 (e.g. timedelta(days=7)), got {older_than!r}")
    if batch_size is not None:
        count_of(batch_size, "batch_size")
    slugs = None if flows is None else [slug_of(f) for f in ([flows] if isinstance(flows, str) else flows)]
    total: dict[str, int] = {}
    while True:
        counts = yield Query.scalar("client_prune_data_older_than", older_than=older_than, flows=slugs,
                                    max_runs=batch_size).and_commit()
        for kind, n in (counts or {}).items():
            total[str(kind)] = total.get(str(kind), 0) + int(n)
        # a call that deleted a full batch of anything may have left more behind
        if batch_size is None or all(int(n) < batch_size for n in (counts or {}).values()):
            return dict(sorted(total.items()))
