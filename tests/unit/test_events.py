"""pgflow.events: each event's declared fields are what the parser reads, strictly."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from pgflow import events
from pgflow.events import (
    EVENT_CLASSES,
    EVENT_TYPES,
    RunFailedEvent,
    StepSkippedEvent,
    TaskFailedEvent,
    TaskStartedEvent,
    parse_event,
)

RUN = "0192a6e4-5b1c-7d3e-8f00-000000000001"
WORKER = "0192a6e4-5b1c-7d3e-8f00-0000000000aa"
TS = "2026-01-02T03:04:05.5+00:00"

# One payload per event type, as the engine's SQL functions build them (plus _emit's "ts").
PAYLOADS = {
    "run:started": {"status": "started", "input": {"n": 1}, "remaining_steps": 2, "started_at": TS},
    "run:completed": {"status": "completed", "output": {"b": 2}, "completed_at": TS},
    "run:failed": {"status": "failed", "error_message": "boom", "failed_at": TS, "failed_step_slug": "b"},
    "run:cancelled": {"status": "failed", "reason": "wrong input", "cancelled_at": TS},
    "step:started": {"step_slug": "a", "status": "started", "started_at": TS, "remaining_tasks": 3,
                     "remaining_deps": 0, "initial_tasks": 3},
    "step:completed": {"step_slug": "a", "status": "completed", "output": [1, 2, 3], "started_at": TS,
                       "completed_at": TS, "remaining_tasks": 0, "remaining_deps": 0},
    "step:failed": {"step_slug": "a", "status": "failed", "error_message": "boom", "failed_at": TS},
    "step:skipped": {"step_slug": "a", "status": "skipped", "skip_reason": "condition_unmet", "skipped_at": TS},
    "task:started": {"step_slug": "a", "task_index": 1, "status": "started", "attempt": 1, "worker_id": WORKER,
                     "started_at": TS},
    "task:completed": {"step_slug": "a", "task_index": 1, "status": "completed", "attempt": 1, "output": 2,
                       "completed_at": TS},
    "task:failed": {"step_slug": "a", "task_index": 1, "status": "queued", "attempt": 1, "error_message": "boom",
                    "will_retry": True, "retry_at": TS, "failed_at": TS},
}


def payload(event_type: str, **changes: object) -> dict:
    data = {"event_type": event_type, "run_id": RUN, "flow_slug": "f", "ts": TS, **PAYLOADS[event_type]}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


def declared(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)} - {"raw"}


def test_only_the_truncation_list_and_one_documented_field_are_optional():
    optional = {(cls.event_type, f.name) for cls in EVENT_CLASSES for f in dataclasses.fields(cls)
                if f.default is not dataclasses.MISSING and f.name not in ("raw", "truncated")}
    assert optional == {("step:skipped", "error_message")}


def test_every_event_type_has_a_sample_payload_and_a_class_named_event():
    assert set(PAYLOADS) == set(EVENT_TYPES)
    assert all(cls.__name__.endswith("Event") for cls in EVENT_CLASSES)


@pytest.mark.parametrize("event_type", sorted(PAYLOADS))
def test_the_parser_reads_exactly_the_declared_fields(event_type):
    data = payload(event_type)
    event = parse_event(json.dumps(data))
    assert type(event) is EVENT_TYPES[event_type] and event.event_type == event_type
    required = {f.name for f in dataclasses.fields(type(event))
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    assert required <= set(data) and set(data) - {"event_type"} <= declared(type(event))
    assert event.raw == data
    assert event.run_id == uuid.UUID(RUN)
    assert event.ts == datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=timezone.utc)


@pytest.mark.parametrize("event_type", sorted(PAYLOADS))
def test_a_missing_required_field_names_the_event_and_the_field(event_type):
    for name in set(PAYLOADS[event_type]) | {"run_id", "flow_slug", "ts"}:
        with pytest.raises(ValueError, match=f"'{event_type}'.*'{name}'"):
            parse_event(payload(event_type, **{name: ...}))


@pytest.mark.parametrize(("event_type", "name", "value"), [
    ("task:failed", "attempt", "1"),
    ("task:failed", "attempt", True),
    ("task:failed", "will_retry", 1),
    ("task:failed", "status", "started"),
    ("task:started", "worker_id", "not-a-uuid"),
    ("run:started", "run_id", 7),
    ("run:started", "started_at", "yesterday"),
    ("run:started", "ts", None),
    ("step:skipped", "skip_reason", None),
    ("step:started", "remaining_tasks", 1.5),
    ("run:completed", "truncated", "output"),
])
def test_a_field_of_the_wrong_type_names_the_event_and_the_field(event_type, name, value):
    with pytest.raises(ValueError, match=f"'{event_type}': field '{name}'"):
        parse_event(payload(event_type, **{name: value}))


def test_values_are_converted_to_their_declared_types():
    started = parse_event(payload("task:started"))
    assert isinstance(started, TaskStartedEvent) and started.worker_id == uuid.UUID(WORKER)
    failed = parse_event(payload("task:failed", retry_at="2026-01-02T03:04:06.25Z"))
    assert isinstance(failed, TaskFailedEvent)
    assert failed.retry_at - failed.failed_at == timedelta(seconds=0.75)


def test_nullable_fields_accept_null_and_optional_fields_may_be_missing():
    assert parse_event(payload("task:started", worker_id=None)).worker_id is None
    assert parse_event(payload("task:failed", retry_at=None, status="failed", will_retry=False)).retry_at is None
    run_failed = parse_event(payload("run:failed", failed_step_slug=None))
    assert isinstance(run_failed, RunFailedEvent) and run_failed.failed_step_slug is None
    skipped = parse_event(payload("step:skipped"))
    assert isinstance(skipped, StepSkippedEvent) and skipped.error_message is None
    assert parse_event(payload("step:skipped", error_message="exhausted")).error_message == "exhausted"


def test_truncated_fields_may_be_missing_and_read_none():
    event = parse_event(payload("task:completed", output=..., truncated=["output"]))
    assert event.truncated == ("output",) and event.output is None
    with pytest.raises(ValueError, match="'output'"):
        parse_event(payload("task:completed", output=..., truncated=["error_message"]))


def test_unknown_keys_are_tolerated_and_kept_in_raw():
    event = parse_event(payload("run:completed", cancelled_by="someone"))
    assert event.raw["cancelled_by"] == "someone" and not hasattr(event, "cancelled_by")


@pytest.mark.parametrize("text", ['{"event_type": "run:cancelled"}', '{"run_id": "x"}', "[1]", "not json"])
def test_unknown_event_types_and_non_objects_raise_value_error(text):
    with pytest.raises(ValueError):
        parse_event(text)


def test_short_fractions_parse_on_every_python():
    assert events._ts("2026-01-02T03:04:05.5+00:00").microsecond == 500000
    assert events._ts("2026-01-02T03:04:05.123+02:00").microsecond == 123000
    assert events._ts("2026-01-02T03:04:05Z").tzinfo is not None


def test_at_is_the_events_own_timestamp():
    completed = parse_event(payload("step:completed", started_at="2026-01-01T00:00:00+00:00"))
    assert completed.at == datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=timezone.utc)
