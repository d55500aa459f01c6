"""The status enums of pgflow.models allow exactly what the tables' CHECK constraints allow.

A new status (say ``cancelled``) goes into the schema's CHECK constraint and the enum together,
or this test fails.
"""

from __future__ import annotations

import re

import pytest

from pgflow.models import RunStatus, StepStatus, TaskStatus

ALLOWED = re.compile(r"^CHECK \(\(status = ANY \(ARRAY\[(.*)\]\)\)\)$")


def allowed_statuses(conn, table: str) -> set[str]:
    """The values the table's CHECK constraint on ``status`` allows, read from the catalog."""
    definitions = [row[0] for row in conn.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'c'",
        (table,))]
    lists = [m[1] for d in definitions if (m := ALLOWED.match(d))]
    assert len(lists) == 1, f"expected one CHECK (status IN (...)) on {table}, found: {definitions}"
    return set(re.findall(r"'([^']*)'::text", lists[0]))


@pytest.mark.parametrize(("table", "enum"), [
    ("pgflow.runs", RunStatus),
    ("pgflow.step_states", StepStatus),
    ("pgflow.step_tasks", TaskStatus),
])
def test_enum_values_are_the_check_constraints_values(conn, table, enum):
    assert allowed_statuses(conn, table) == {s.value for s in enum}


def test_the_column_defaults_are_enum_values(conn):
    defaults = dict(conn.execute(
        "SELECT table_name, column_default FROM information_schema.columns"
        " WHERE table_schema = 'pgflow' AND column_name = 'status'"
        " AND table_name IN ('runs', 'step_states', 'step_tasks')").fetchall())
    assert defaults == {"runs": f"'{RunStatus.STARTED}'::text", "step_states": f"'{StepStatus.CREATED}'::text",
                        "step_tasks": f"'{TaskStatus.QUEUED}'::text"}
