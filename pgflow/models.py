"""What the client returns: frozen dataclasses built from database rows, and the status enums.

    RunStatus   started | completed | failed                     (``pgflow.runs.status``)
    StepStatus  created | started | completed | failed | skipped (``pgflow.step_states.status``)
    TaskStatus  queued | started | completed | failed            (``pgflow.step_tasks.status``)

    Run         one execution of a flow (``.step_states`` filled by ``get_run_with_states``)
    StepState   one step within a run (``.tasks`` filled by ``get_run_with_states``)
    StepTask    one unit of work of a step (one per map element)
    FlowInfo    a flow as stored in the database, with its ``StepInfo`` list
    WorkerInfo  a registered worker and its heartbeat
    Schedule    a cron schedule of a flow, with its next and last run

Each ``from_row`` takes a row as a dict (psycopg's ``dict_row``); unknown keys are ignored, so
the queries may select more columns than a model uses.

The status enums are ``str`` enums (``RunStatus.COMPLETED == "completed"``), their values are
the ones the tables' ``CHECK`` constraints allow (tests/sql/test_status_enums.py compares them),
and ``.is_terminal`` is the one spelling of "over: no transition leaves this status".
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from pgflow.dsl.cron import Cron
from pgflow.errors import ScheduleError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

M = TypeVar("M", bound="DataclassInstance")


class _Status(str, Enum):
    def __str__(self) -> str:  # the value everywhere (f-strings, templates), on every Python
        return str(self.value)

    @property
    def is_terminal(self) -> bool:
        """True for a status no transition leaves (completed, failed, and a step's skipped)."""
        return self.value in _TERMINAL


class RunStatus(_Status):
    """The status of a run (``Run.status``)."""

    STARTED = "started"
    COMPLETED = "completed"
    FAILED = "failed"


class StepStatus(_Status):
    """The status of a step within a run (``StepState.status``)."""

    CREATED = "created"
    STARTED = "started"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"


class TaskStatus(_Status):
    """The status of a task (``StepTask.status``); a failed attempt that will be retried is queued again.

    A task that had not finished when its step was skipped ends ``SKIPPED``; one that had not
    finished when its run failed ends ``CANCELLED``.
    """

    QUEUED = "queued"
    STARTED = "started"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


_TERMINAL = frozenset({"completed", "failed", "skipped", "cancelled"})


def _pick(cls: type[M], row: dict[str, Any], **extra: Any) -> M:
    names = {f.name for f in fields(cls)}
    values = {k: v for k, v in row.items() if k in names}
    values.update(extra)
    return cls(**values)


@dataclass(frozen=True)
class StepTask:
    """One task of a step: a single step has one (task_index 0), a map step one per element."""

    flow_slug: str
    run_id: UUID
    step_slug: str
    task_index: int
    status: TaskStatus
    attempts_count: int = 0
    message_id: int | None = None
    error_message: str | None = None
    output: Any = None
    queued_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    failed_at: datetime | None = None
    last_worker_id: UUID | None = None
    #: queued, but its message is hidden until then (a delayed start, start delay or retry backoff)
    due_at: datetime | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> StepTask:
        return _pick(cls, row, status=TaskStatus(row["status"]))


@dataclass(frozen=True)
class StepState:
    """A step within a run."""

    step_slug: str
    status: StepStatus
    remaining_tasks: int | None = None
    remaining_deps: int = 0
    initial_tasks: int | None = None
    output: Any = None
    error_message: str | None = None
    skip_reason: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    failed_at: datetime | None = None
    skipped_at: datetime | None = None
    step_type: str | None = None
    depends_on: tuple[str, ...] = ()
    tasks: tuple[StepTask, ...] = ()
    #: started, but all its tasks wait (hidden) until then: it is not running yet
    due_at: datetime | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any], tasks: tuple[StepTask, ...] = ()) -> StepState:
        return _pick(cls, row, status=StepStatus(row["status"]), depends_on=tuple(row.get("depends_on") or ()),
                     tasks=tasks)


@dataclass(frozen=True)
class Run:
    """One execution of a flow. ``step_states`` is empty unless read with ``get_run_with_states``."""

    run_id: UUID
    flow_slug: str
    status: RunStatus
    input: Any = None
    output: Any = None
    remaining_steps: int = 0
    started_at: datetime | None = None
    completed_at: datetime | None = None
    failed_at: datetime | None = None
    step_states: tuple[StepState, ...] = ()
    #: started, but nothing of it can run before then (enqueued for later, or waiting out a delay)
    due_at: datetime | None = None
    #: set when ``cancel_run`` ended the run (its status is then ``failed``), with the reason given
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    #: the key it was started with (start_flow / enqueue ``idempotency_key=``), while it is kept
    idempotency_key: str | None = None
    #: how long the key is kept after the run ends (None: forever, or no key)
    idempotency_ttl: timedelta | None = None
    #: the run this one retries or resumes (retry_run, resume_run), if any
    retry_of: UUID | None = None
    #: how it started again the run ``retry_of`` names: "retry" or "resume" (None for runs
    #: started again before pgflow-py recorded it)
    retry_kind: str | None = None
    #: the runs that retry or resume this one, oldest first (read by get_run and
    #: get_run_with_states; empty from list_runs)
    retried_by: tuple[UUID, ...] = ()
    #: higher is claimed first within its flow (start_flow / enqueue ``priority=``; 0 by default)
    priority: int = 0
    #: the run's group for per-key limits (``concurrency_key=`` of its flow: the text at the path
    #: in its input, or what the function returned; "" when the input lacks it - the no-key
    #: group); None when the flow had no per-key limit when the run started
    concurrency_key: str | None = None
    #: why flow control keeps its queued tasks from being claimed now ("paused: ...",
    #: "concurrency limit: flow max_running 3 (3 running)", ...; read by get_run and
    #: get_run_with_states), else None
    held_by: str | None = None

    @property
    def cancelled(self) -> bool:
        """True when ``cancel_run`` ended the run (a cancelled run's status is ``failed``)."""
        return self.cancelled_at is not None

    @property
    def finished(self) -> bool:
        """True once the run is over (completed or failed)."""
        status = self.status  # a RunStatus already, except when built from plain text
        return (status if isinstance(status, RunStatus) else RunStatus(status)).is_terminal

    def step(self, step_slug: str) -> StepState:
        """The state of one step (needs ``get_run_with_states``); ``KeyError`` names the known steps."""
        for state in self.step_states:
            if state.step_slug == step_slug:
                return state
        known = ", ".join(s.step_slug for s in self.step_states) or "none loaded; use get_run_with_states"
        raise KeyError(f"run {self.run_id} has no step {step_slug!r} (steps: {known})")

    @classmethod
    def from_row(cls, row: dict[str, Any], step_states: tuple[StepState, ...] = ()) -> Run:
        return _pick(cls, row, status=RunStatus(row["status"]), step_states=step_states,
                     retried_by=tuple(row.get("retried_by") or ()))


@dataclass(frozen=True)
class CancelResult:
    """What ``cancel_run`` did: ``cancelled`` is True when this call ended the run, False when the
    run was already over (``status`` then says how it ended; ``cancelled_at`` is set when an
    earlier cancel ended it)."""

    run_id: UUID
    cancelled: bool
    status: RunStatus
    cancelled_at: datetime | None = None


@dataclass(frozen=True)
class SignalResult:
    """What a signal did (``Client.signal``, ``Client.signal_by_key``): ``outcome`` is
    'delivered' (the step was waiting and completed with the payload), 'kept' (the step does not
    wait yet; it gets the signal when it does) or 'duplicate' (a signal came first and won; this
    one changed nothing - ``received_at`` is the first one's time)."""

    run_id: UUID
    step_slug: str
    outcome: str
    received_at: datetime

    @property
    def duplicate(self) -> bool:
        return self.outcome == "duplicate"


@dataclass(frozen=True)
class BulkResult:
    """What a bulk operation (``cancel_runs``, ``retry_runs``, ``resume_runs``) did, or with
    ``dry_run`` would do: ``run_ids`` the runs acted on, newest first; ``new_run_ids`` the new run
    of each of them for retry and resume (same order); ``not_done`` the runs that matched but
    were left as they were, each with why (ended meanwhile, a changed flow, ...)."""

    action: str
    dry_run: bool
    run_ids: tuple[UUID, ...] = ()
    new_run_ids: tuple[UUID, ...] = ()
    not_done: tuple[tuple[UUID, str], ...] = ()

    @property
    def count(self) -> int:
        """How many runs were (or, in a dry run, would be) acted on."""
        return len(self.run_ids)

    @property
    def nothing_to_do(self) -> bool:
        """True when no run matched the filter (or none could be acted on)."""
        return not self.run_ids


@dataclass(frozen=True)
class StepInfo:
    """A step of a stored flow. Options are None where the flow's value applies."""

    step_slug: str
    step_type: str  # single | map
    step_index: int
    depends_on: tuple[str, ...] = ()
    max_attempts: int | None = None
    base_delay: int | None = None
    timeout: int | None = None
    start_delay: int | None = None
    required_input_pattern: Any = None
    forbidden_input_pattern: Any = None
    when_unmet: str = "skip"
    when_exhausted: str = "fail"
    queue_name: str = ""  # the pgmq queue its tasks go to

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> StepInfo:
        return cls(
            step_slug=row["step_slug"],
            step_type=row["step_type"],
            step_index=row["step_index"],
            depends_on=tuple(row.get("depends_on") or ()),
            max_attempts=row.get("opt_max_attempts"),
            base_delay=row.get("opt_base_delay"),
            timeout=row.get("opt_timeout"),
            start_delay=row.get("opt_start_delay"),
            required_input_pattern=row.get("required_input_pattern"),
            forbidden_input_pattern=row.get("forbidden_input_pattern"),
            when_unmet=row.get("when_unmet", "skip"),
            when_exhausted=row.get("when_exhausted", "fail"),
            queue_name=row.get("queue_name") or "",
        )


@dataclass(frozen=True)
class FlowInfo:
    """A flow (or job) as stored in the database, its options and its steps in order."""

    flow_slug: str
    flow_type: str  # flow | job
    max_attempts: int
    base_delay: int
    timeout: int
    created_at: datetime | None = None
    steps: tuple[StepInfo, ...] = ()
    queue_mode: str = "flow"  # flow: one queue, lower(flow_slug) | step: a private queue per step

    def dependents(self, step_slug: str) -> list[str]:
        """Slugs of the steps that depend on ``step_slug``, in step order."""
        return [s.step_slug for s in self.steps if step_slug in s.depends_on]

    @classmethod
    def from_row(cls, row: dict[str, Any], steps: tuple[StepInfo, ...] = ()) -> FlowInfo:
        return cls(
            flow_slug=row["flow_slug"],
            flow_type=row.get("flow_type", "flow"),
            max_attempts=row["opt_max_attempts"],
            base_delay=row["opt_base_delay"],
            timeout=row["opt_timeout"],
            created_at=row.get("created_at"),
            steps=steps,
            queue_mode=row.get("queue_mode") or "flow",
        )


@dataclass(frozen=True)
class WorkerInfo:
    """A worker registered in ``pgflow.workers``."""

    worker_id: UUID
    queue_name: str
    function_name: str
    started_at: datetime | None = None
    last_heartbeat_at: datetime | None = None
    deprecated_at: datetime | None = None
    stopped_at: datetime | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> WorkerInfo:
        return _pick(cls, row)


@dataclass(frozen=True)
class Schedule:
    """A schedule as stored: what runs when, and what happened last."""

    slug: str
    flow_slug: str
    expression: str
    timezone: str
    input: Any
    catch_up: str  # one | all | none
    backend: str  # builtin | pg_cron
    source: str  # code | api
    enabled: bool
    next_run_at: datetime | None  # None while paused or orphaned
    description: str  # "every day at 09:00 Europe/Berlin"
    status: str  # active | paused | orphaned (declared in code once, no longer)
    last_tick_at: datetime | None = None
    last_run_at: datetime | None = None
    last_run_id: UUID | None = None
    last_error: str | None = None
    orphaned_at: datetime | None = None
    runs_count: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def cron(self) -> Cron:
        return Cron(self.expression, input=self.input, timezone=self.timezone, catch_up=self.catch_up)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Schedule:
        next_run_at = row["next_run_at"] if row["enabled"] else None
        try:
            cron = Cron(row["expression"], timezone=row["timezone"])
            description = cron.describe()
            if row["enabled"] and row["backend"] == "pg_cron":
                next_run_at = cron.next_after(row["now"])
        except ScheduleError as exc:
            description = f"invalid: {exc}"
        return cls(
            slug=row["schedule_slug"], flow_slug=row["flow_slug"], expression=row["expression"],
            timezone=row["timezone"], input=row["input"], catch_up=row["catch_up"], backend=row["backend"],
            source=row["source"], enabled=row["enabled"], next_run_at=next_run_at, description=description,
            status="orphaned" if row["orphaned_at"] is not None else "active" if row["enabled"] else "paused",
            last_tick_at=row["last_tick_at"], last_run_at=row["last_run_at"], last_run_id=row["last_run_id"],
            last_error=row["last_error"], orphaned_at=row["orphaned_at"], runs_count=int(row.get("runs_count") or 0),
            created_at=row["created_at"], updated_at=row["updated_at"],
        )


@dataclass(frozen=True)
class FlowControl:
    """A flow's flow control (``client.get_flow_control``, ``set_limits``, ``pause_flow``,
    ``resume_flow``): its limits, whether it is paused, and what it runs and has queued now."""

    flow_slug: str
    max_running: int | None = None  # at most this many of its tasks running at once (None: no limit)
    step_limits: dict[str, int] | None = None  # step slug -> max_running of that step's tasks
    rate_limit: tuple[int, float] | None = None  # at most count task starts per seconds (smoothed)
    step_rate_limits: dict[str, tuple[int, float]] | None = None
    paused_at: datetime | None = None
    pause_reason: str | None = None
    running: int = 0  # tasks running now (status started), in all
    running_by_step: dict[str, int] | None = None
    queued: int = 0  # tasks waiting to be claimed (status queued)
    concurrency_key: str | None = None  # the path into the run input that gives a run its key
    max_running_per_key: int | None = None  # at most this many tasks running at once per key
    running_by_key: dict[str, int] | None = None  # key ('' = no key) -> running tasks, with a per-key limit
    rate_limit_per_key: tuple[int, float] | None = None  # at most count task starts per seconds per key

    @property
    def paused(self) -> bool:
        return self.paused_at is not None

    @property
    def limits(self) -> dict[str, Any]:
        """The limits as ``pgflow.set_flow_limits`` takes them: ``{"max_running": n, "steps": {...}}``."""
        limits: dict[str, Any] = {}
        if self.max_running is not None:
            limits["max_running"] = self.max_running
        if self.rate_limit is not None:
            limits["rate_limit"] = {"count": self.rate_limit[0], "per": self.rate_limit[1]}
        steps: dict[str, dict[str, Any]] = {}
        for slug, n in (self.step_limits or {}).items():
            steps.setdefault(slug, {})["max_running"] = n
        for slug, (count, per) in (self.step_rate_limits or {}).items():
            steps.setdefault(slug, {})["rate_limit"] = {"count": count, "per": per}
        if steps:
            limits["steps"] = steps
        if self.concurrency_key is not None:
            limits["concurrency_key"] = self.concurrency_key
        if self.max_running_per_key is not None:
            limits["max_running_per_key"] = self.max_running_per_key
        if self.rate_limit_per_key is not None:
            limits["rate_limit_per_key"] = {"count": self.rate_limit_per_key[0], "per": self.rate_limit_per_key[1]}
        return limits

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> FlowControl:
        limits = row["limits"] or {}
        steps = {slug: int(v["max_running"]) for slug, v in (limits.get("steps") or {}).items() if "max_running" in v}
        rates = {slug: _rate_of(v["rate_limit"]) for slug, v in (limits.get("steps") or {}).items() if "rate_limit" in v}
        by_step = {slug: int(n) for slug, n in (row["running"] or {}).items()}
        return cls(
            flow_slug=row["flow_slug"], max_running=limits.get("max_running"), step_limits=steps,
            rate_limit=_rate_of(limits["rate_limit"]) if "rate_limit" in limits else None, step_rate_limits=rates,
            paused_at=row["paused_at"], pause_reason=row["pause_reason"], running=sum(by_step.values()),
            running_by_step=by_step, queued=int(row["queued"] or 0),
            concurrency_key=limits.get("concurrency_key"), max_running_per_key=limits.get("max_running_per_key"),
            running_by_key=None if row.get("running_by_key") is None
            else {key: int(n) for key, n in row["running_by_key"].items()},
            rate_limit_per_key=_rate_of(limits["rate_limit_per_key"]) if "rate_limit_per_key" in limits else None,
        )


def _rate_of(rate: dict[str, Any]) -> tuple[int, float]:
    return int(rate["count"]), float(rate["per"])
