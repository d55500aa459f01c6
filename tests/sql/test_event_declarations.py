"""What the engine emits is what pgflow.events declares: every payload of every emit site parses
strictly into its event class, and carries no field that class does not declare."""

from __future__ import annotations

import dataclasses

import pytest

from pgflow.events import EVENT_TYPES, parse_event
from tests.sql.test_event_payloads import FIELDS, SCENARIOS, capture


def declared(event_type: str, *, required_only: bool = False) -> set[str]:
    return {f.name for f in dataclasses.fields(EVENT_TYPES[event_type]) if f.name not in ("raw", "truncated")
            and not (required_only and f.default is not dataclasses.MISSING)}


def test_the_pinned_payload_fields_are_the_declared_ones():
    assert set(FIELDS) == set(EVENT_TYPES)
    for event_type, fields in FIELDS.items():
        assert fields - {"event_type"} == declared(event_type, required_only=True), event_type


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_emitted_payload_parses_into_its_declared_event(db_url, name):
    scenario, expected = SCENARIOS[name]
    payloads = capture(db_url, scenario, len(expected))
    assert [p["event_type"] for p in payloads] == expected
    for payload in payloads:
        event = parse_event(payload)
        assert type(event) is EVENT_TYPES[payload["event_type"]]
        assert set(payload) - {"event_type"} <= declared(event.event_type), payload
