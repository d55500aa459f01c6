"""pgflow.ops.common: the checks and conversions of what callers pass to operations."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

import pgflow
from pgflow.errors import FlowDefinitionError, InvalidInput
from pgflow.ops.common import json_text, run_uuid, seconds_of, slug_of

RUN_ID = UUID("3f2a9c1e-0b7d-4c55-9d0e-6a1b2c3d4e5f")


class Named:
    slug = "duck"


def test_slug_of_a_flow_a_job_a_slug_or_anything_with_a_slug() -> None:
    assert [slug_of(f) for f in (pgflow.Flow("f"), pgflow.Job("j"), "s", Named())] == ["f", "j", "s", "duck"]


@pytest.mark.parametrize("value", [None, 42, object()])
def test_slug_of_refuses_the_rest(value: object) -> None:
    with pytest.raises(FlowDefinitionError, match="expected a Flow, a Job or a flow slug"):
        slug_of(value)  # type: ignore[arg-type]


def test_json_text_is_compact_and_refuses_what_json_cannot_hold() -> None:
    assert json_text({"a": [1, 2.5, None, True]}) == '{"a":[1,2.5,null,true]}'
    for value in (float("inf"), {"when": timedelta(1)}, {b"bytes": 1}):
        with pytest.raises(InvalidInput, match="the schedule input is not JSON-serialisable"):
            json_text(value, "schedule input")  # type: ignore[arg-type]


def test_run_uuid_reads_a_uuid_or_its_text() -> None:
    assert run_uuid(RUN_ID) is RUN_ID
    assert run_uuid(str(RUN_ID).upper()) == RUN_ID
    with pytest.raises(InvalidInput, match="'42' is not a run id"):
        run_uuid("42")


def test_seconds_of_numbers_and_timedeltas_only() -> None:
    assert (seconds_of(2, "d"), seconds_of(0.5, "d"), seconds_of(timedelta(minutes=1), "d")) == (2.0, 0.5, 60.0)
    for value in (True, "5", None):
        with pytest.raises(InvalidInput, match="delay must be a number of seconds or a timedelta"):
            seconds_of(value, "delay")  # type: ignore[arg-type]
