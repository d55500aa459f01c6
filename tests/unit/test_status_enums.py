"""Status enums: str values, one spelling of "over", and the statuses events can carry."""

from __future__ import annotations

import json
from typing import Literal, get_args, get_origin, get_type_hints

from pgflow.events import EVENT_CLASSES, RunEvent, StepEvent, TaskEvent
from pgflow.models import Run, RunStatus, StepStatus, TaskStatus


def test_statuses_are_strings_that_print_as_their_value():
    assert RunStatus.COMPLETED == "completed" and isinstance(StepStatus.SKIPPED, str)
    assert f"{TaskStatus.QUEUED}" == str(TaskStatus.QUEUED) == "queued"
    assert json.dumps([RunStatus.FAILED]) == '["failed"]'
    assert RunStatus("started") is RunStatus.STARTED


def test_is_terminal_marks_the_statuses_nothing_leaves():
    assert {s for s in RunStatus if s.is_terminal} == {RunStatus.COMPLETED, RunStatus.FAILED}
    assert {s for s in StepStatus if s.is_terminal} == {StepStatus.COMPLETED, StepStatus.FAILED, StepStatus.SKIPPED}
    assert {s for s in TaskStatus if s.is_terminal} == {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.SKIPPED,
                                                       TaskStatus.CANCELLED}


def test_run_finished_follows_is_terminal_and_rows_become_enums():
    for status in RunStatus:
        run = Run.from_row({"run_id": "r", "flow_slug": "f", "status": status.value})
        assert run.status is status and run.finished == status.is_terminal


def test_every_status_an_event_carries_is_a_value_of_its_enum():
    for family, enum in ((RunEvent, RunStatus), (StepEvent, StepStatus), (TaskEvent, TaskStatus)):
        classes = [cls for cls in EVENT_CLASSES if issubclass(cls, family)]
        assert classes
        for cls in classes:
            hint = get_type_hints(cls)["status"]
            assert get_origin(hint) is Literal, cls
            assert set(get_args(hint)) <= {s.value for s in enum}, cls
