"""Client.signal / signal_by_key: outcomes and the errors a caller can meet (nothing changes)."""

from __future__ import annotations

import math
import uuid

import pytest

import pgflow
from pgflow.errors import InvalidInput, RunNotFound, RunStateError


def _gate() -> pgflow.Flow:
    flow = pgflow.Flow("signal_client")

    @flow.step
    def first(input):
        return input

    flow.signal("go", depends_on=[first], early_signals="reject")
    return flow


def test_signal_outcomes_and_errors(db_url: str) -> None:
    flow = _gate()
    with pgflow.Client(db_url) as client:
        client.compile(flow)
        run_id = client.start_flow(flow, {}, signal_key="k-1")
        with pytest.raises(RunStateError, match="does not wait yet"):
            client.signal(run_id, "go", 1)  # early, refused by the step's option
        with pytest.raises(InvalidInput, match="is not a signal step"):
            client.signal(run_id, "first", 1)
        with pytest.raises(InvalidInput, match="signal payload"):
            client.signal(run_id, "go", math.nan)  # not JSON
        with pytest.raises(RunNotFound):
            client.signal(uuid.uuid4(), "go", 1)
        with pytest.raises(RunNotFound, match="no run of flow 'signal_client' has signal key 'k-2'"):
            client.signal_by_key(flow, "k-2", "go", 1)
        with pytest.raises(InvalidInput, match="signal_key must be a string of 1 to 200"):
            client.start_flow(flow, {}, signal_key="")
        assert client.get_run(run_id).status == "started"
