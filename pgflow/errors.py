"""Exceptions raised by pgflow-py.

Every error a user can meet derives from :class:`PgFlowError`; each message says what to do.

    PgFlowError
    ├── ConfigurationError          bad settings, no database reachable
    │   └── MissingExtra            an optional library is not installed (names the extra)
    ├── DatabaseUnavailable         the database cannot be reached (after retries)
    ├── SchemaError                 the pgflow schema is missing, incomplete or drifted
    ├── FlowDefinitionError         an invalid flow or job definition (bad slug, cycle, options)
    ├── FlowNotFound                no flow with that slug in the database
    ├── FlowShapeMismatch           code and database disagree on a flow's shape
    ├── RunNotFound                 no run with that id
    ├── InvalidInput                input that the flow cannot take (not JSON, not an array for a root map)
    ├── RunFailed                   a waited-for run failed (carries the run)
    ├── RunTimeout                  a waited-for run did not finish in time (carries the last state)
    ├── ScheduleError               an invalid cron expression, time zone or schedule operation
    └── TaskError                   a handler's output or behaviour that fails its task
        ├── NonSerializableOutput   the handler returned something that is not JSON
        └── TaskTimeout             the handler ran past its step timeout
"""

from __future__ import annotations

from typing import Any


class PgFlowError(Exception):
    """Base class of every pgflow-py error."""


class ConfigurationError(PgFlowError):
    """A setting is missing or wrong."""


class MissingExtra(ConfigurationError, ImportError):
    """An optional library a feature needs is not installed; the message names the extra."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        super().__init__(f"{feature} needs {module}, which is not installed: pip install 'pgflow-py[{extra}]'")
        self.extra = extra


class DatabaseUnavailable(PgFlowError):
    """The database could not be reached."""


class SchemaError(PgFlowError):
    """The ``pgflow`` schema is missing, incomplete or does not match this version."""


class FlowDefinitionError(PgFlowError, ValueError):
    """A flow or job definition is invalid; the message says which part and how to fix it."""


class FlowNotFound(PgFlowError, LookupError):
    """No flow with the given slug exists in the database."""

    def __init__(self, flow_slug: str | None, message: str | None = None) -> None:
        self.flow_slug = flow_slug
        super().__init__(
            message
            or f"flow {flow_slug!r} does not exist in the database; compile it first "
            f"(client.compile(flow), or `pgflow compile module:attr`)"
        )


class FlowShapeMismatch(PgFlowError):
    """The flow defined in code differs from the one stored in the database."""

    def __init__(self, flow_slug: str, differences: list[str]) -> None:
        self.flow_slug = flow_slug
        self.differences = list(differences)
        listed = "\n".join(f"  - {d}" for d in self.differences)
        super().__init__(
            f"flow {flow_slug!r} in the database differs from the definition in code:\n{listed}\n"
            f"Fix: give the changed flow a new slug (e.g. {flow_slug}_v2), or replace the stored flow, which "
            f"deletes its runs: `pgflow flows recompile {flow_slug} MODULE[:ATTR]`, client.recompile(flow), or "
            f"allow_data_loss=True (Worker, client.compile, `pgflow compile --allow-data-loss`)."
        )


class RunNotFound(PgFlowError, LookupError):
    """No run with the given id exists."""

    def __init__(self, run_id: Any, message: str | None = None) -> None:
        self.run_id = run_id
        super().__init__(message or f"run {run_id} does not exist (it may have been pruned or deleted)")


class RunStateError(PgFlowError, ValueError):
    """The run's status does not allow the action (e.g. retrying a run that is still going or
    completed); nothing was changed. ``.run_id`` names the run when known."""

    def __init__(self, message: str, run_id: Any = None) -> None:
        self.run_id = run_id
        super().__init__(message)


class InvalidInput(PgFlowError, ValueError):
    """The input cannot be given to the flow."""


class RunFailed(PgFlowError):
    """A run that was waited for failed; ``.run`` holds its final state."""

    def __init__(self, run: Any, message: str | None = None) -> None:
        self.run = run
        failed = [s.step_slug for s in (getattr(run, "step_states", None) or []) if s.status == "failed"]
        detail = message or ", ".join(
            f"{s.step_slug}: {s.error_message}" for s in (run.step_states or []) if s.status == "failed"
        )
        where = f" (failed steps: {', '.join(failed)})" if failed else ""
        super().__init__(f"run {run.run_id} of flow {run.flow_slug!r} failed{where}: {detail or 'no error message'}")


class RunTimeout(PgFlowError, TimeoutError):
    """A run that was waited for did not finish in time; ``.run`` holds its last known state."""

    def __init__(self, run_id: Any, timeout: float, run: Any = None) -> None:
        self.run_id = run_id
        self.timeout = timeout
        self.run = run
        status = f" (still {run.status})" if run is not None else ""
        super().__init__(
            f"run {run_id} did not finish within {timeout:g} s{status}; it keeps going in the database. "
            f"Is a worker running for its flow? Check with client.get_run_with_states(run_id)."
        )


class ScheduleError(PgFlowError, ValueError):
    """An invalid cron expression, time zone or schedule operation."""


class TaskError(PgFlowError):
    """Raised by the worker for a handler result that fails its task."""


class NonSerializableOutput(TaskError, TypeError):
    """A handler returned a value that cannot be stored as JSON."""


class TaskTimeout(TaskError, TimeoutError):
    """A handler ran past its step timeout."""


class TaskCancelled(TaskError):
    """Raised by ``ctx.raise_if_cancelled()`` in a handler whose run was cancelled
    (``cancel_run``): the handler may stop; whatever it returns or raises afterwards changes nothing."""


def first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s text, or its type's name when it has no text (for one-line
    messages that wrap another error)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
