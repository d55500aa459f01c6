"""max_running on flows, jobs and steps: checked at definition, declared outside the shape."""

from __future__ import annotations

import pytest

import pgflow
from pgflow.errors import FlowDefinitionError


@pytest.mark.parametrize("value", [0, -3, 1.5, "2", True])
def test_a_flow_max_running_below_one_or_not_whole_is_refused_naming_flow_and_option(value: object) -> None:
    with pytest.raises(FlowDefinitionError, match=r"flow 'imports': max_running must be"):
        pgflow.Flow("imports", max_running=value)  # type: ignore[arg-type]


def test_a_step_max_running_of_zero_is_refused_naming_the_step() -> None:
    flow = pgflow.Flow("imports")
    with pytest.raises(FlowDefinitionError, match=r"step 'fetch' of flow 'imports': max_running must be >= 1, got 0"):
        @flow.step(max_running=0)
        def fetch(input: object) -> None: ...


def _imports(**limits: int) -> pgflow.Flow:
    flow = pgflow.Flow("imports", **({"max_running": limits["flow"]} if "flow" in limits else {}))

    @flow.step(**({"max_running": limits["fetch"]} if "fetch" in limits else {}))
    def fetch(input: object) -> None: ...

    @flow.step(depends_on=[fetch])
    def store(deps: object) -> None: ...

    return flow


def test_limits_are_declared_apart_from_the_shape() -> None:
    limited = _imports(flow=20, fetch=2)

    assert limited.declared_limits() == {"max_running": 20, "steps": {"fetch": {"max_running": 2}}}
    assert limited.shape_json() == _imports().shape_json()  # no recompile when limits change


def test_a_job_takes_max_running_for_its_one_step() -> None:
    job = pgflow.Job("send_email", max_running=2)

    @job.perform
    def send(input: object) -> None: ...

    assert job.declared_limits() == {"max_running": 2}


def test_no_limits_declare_nothing() -> None:
    flow = pgflow.Flow("plain")

    @flow.step
    def only(input: object) -> None: ...

    assert flow.declared_limits() == {}
