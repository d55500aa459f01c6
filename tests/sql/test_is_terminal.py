"""pgflow._is_terminal, the engine's one spelling of "over", agrees with the status enums' is_terminal."""

from __future__ import annotations

import pytest

from pgflow.models import RunStatus, StepStatus, TaskStatus
from tests.sql.helpers import scalar


@pytest.mark.parametrize("status", [*RunStatus, *StepStatus, *TaskStatus], ids=lambda s: f"{type(s).__name__}.{s.name}")
def test_sql_and_python_agree_on_which_statuses_are_over(conn, status):
    assert scalar(conn, "SELECT pgflow._is_terminal(%s)", (status.value,)) is status.is_terminal
