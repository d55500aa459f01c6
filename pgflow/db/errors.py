"""Database errors as :mod:`pgflow.errors`: the one place that translates them."""

from __future__ import annotations

import re

import psycopg
from psycopg import errors as pg_errors

from pgflow.db.dsn import dsn_source
from pgflow.errors import (
    DatabaseUnavailable,
    FlowDefinitionError,
    FlowNotFound,
    InvalidInput,
    PgFlowError,
    RunNotFound,
    RunStateError,
    ScheduleError,
    SchemaError,
    first_line,
)


_QUOTED = re.compile(r"""["']([^"']+)["']""")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_MISSING_OBJECT = (pg_errors.UndefinedFunction, pg_errors.UndefinedTable, pg_errors.InvalidSchemaName)


def _text(exc: psycopg.Error) -> str:
    diag = exc.diag
    primary = diag.message_primary or first_line(exc)
    return f"{primary} ({diag.message_hint})" if diag.message_hint else primary


def _run_id_in(message: str) -> str | None:
    found = _UUID.search(message)
    return found[0] if found else None


def _hint_is_sql(exc: psycopg.Error) -> bool:
    """Whether the error's hint tells how to compile a flow in SQL (pgflow.create_flow)."""
    return "create_flow" in (exc.diag.message_hint or "")


def _subject(message: str) -> str | None:
    found = _QUOTED.search(message)
    return found[1] if found else None


def translate_error(exc: BaseException) -> BaseException:
    """The :mod:`pgflow.errors` exception for a database error, or ``exc`` itself.

    SQLSTATEs PF001-PF005 (raised by the engine's SQL) become FlowNotFound, RunNotFound,
    InvalidInput, FlowDefinitionError and RunStateError; a missing pgflow object becomes SchemaError; a
    connection failure becomes DatabaseUnavailable. As a safety net behind the checks made in
    Python, a data error (SQLSTATE class 22, or a NUL refused by the driver) becomes InvalidInput
    and a schedule's CHECK violation ScheduleError.
    """
    if isinstance(exc, PgFlowError) or not isinstance(exc, psycopg.Error):
        return exc
    code = exc.sqlstate
    message = _text(exc)
    if code == "PF001":
        if _hint_is_sql(exc):  # the engine's hint speaks SQL; a Python caller compiles differently
            message = (f"{exc.diag.message_primary}; check the slug, or compile the flow first: "
                       f"`pgflow compile myapp.flows` or client.compile(flow) (a worker compiles the flows it "
                       f"serves when it starts)")
        return FlowNotFound(_subject(message), message)
    if code == "PF002":
        return RunNotFound(_subject(message), message)
    if code == "PF003":
        return InvalidInput(message)
    if code == "PF004":
        return FlowDefinitionError(message)
    if code == "PF005":
        return RunStateError(message, _run_id_in(message))
    if isinstance(exc, _MISSING_OBJECT) and "pgflow" in str(exc):
        return SchemaError(
            f"the pgflow schema is missing or incomplete ({message}); "
            f"install it with `pgflow db install` or client.install()"
        )
    if isinstance(exc, pg_errors.CheckViolation) and exc.diag.table_name == "schedules":
        return ScheduleError(f"the schedule was refused: {message}; a schedule's slug follows the rules of a "
                             f"flow's (letters, digits and single underscores, starting with a letter)")
    if isinstance(exc, psycopg.DataError):
        # values the caller passed that PostgreSQL cannot take: a NUL in text (refused by the driver,
        # which gives no SQLSTATE), a number or interval out of range, text that is not valid...
        return InvalidInput(f"a value passed to pgflow was refused: {message}; check the arguments of the call")
    if isinstance(exc, psycopg.OperationalError) and code is None:
        return DatabaseUnavailable(
            f"cannot reach the database: {first_line(exc)}. Check that PostgreSQL is running and that "
            f"{dsn_source()} points at it"
        )
    return exc
