"""Defining waiting steps: flow.signal, flow.sleep, flow.sleep_until, flow.subflow."""

from __future__ import annotations

from datetime import timedelta

import pytest

import pgflow
from pgflow.errors import FlowDefinitionError


def _order() -> pgflow.Flow:
    flow = pgflow.Flow("order")

    @flow.step
    def create(input):
        return {}

    return flow


def test_signal_step_is_a_plain_single_step_in_the_shape():
    flow = _order()
    plain = _order()
    approval = flow.signal("approval", depends_on=["create"], timeout=timedelta(days=2))
    plain.step(lambda deps: deps, slug="approval", depends_on=["create"])
    assert flow.shape() == plain.shape()  # upstream compiles it; how it waits is stored beside
    assert approval.handler is None and approval.wait is not None
    assert flow.wait_rows() == [{
        "step_slug": "approval", "wait_kind": "signal", "timeout_seconds": 172800, "on_timeout": "fail",
        "timeout_output": None, "early_signals": "keep", "at_path": None, "sleep_seconds": 0,
        "child_flow_slug": None, "input_path": None}]


def test_signal_as_a_decorator_names_the_step_after_the_function():
    flow = _order()

    @flow.signal(depends_on=["create"], default={"approved": False}, timeout=60)
    def approval():
        """Waits for a manager."""

    row = flow.wait_rows()[0]
    assert (row["step_slug"], row["on_timeout"], row["timeout_output"]) == ("approval", "default", {"approved": False})
    assert flow.dependents("approval") == []


def test_sleep_and_sleep_until():
    flow = _order()
    flow.sleep("cool_off", depends_on=["create"], duration=timedelta(minutes=5))
    flow.sleep_until("remind", depends_on=["create"], at="create.remind_at", offset=60)
    rows = {r["step_slug"]: r for r in flow.wait_rows()}
    assert (rows["cool_off"]["wait_kind"], rows["cool_off"]["sleep_seconds"]) == ("sleep", 300)
    assert (rows["remind"]["at_path"], rows["remind"]["sleep_seconds"]) == (["create", "remind_at"], 60)


def test_sleep_until_refuses_a_callable_and_says_what_to_do():
    flow = _order()
    with pytest.raises(FlowDefinitionError, match="field path such as 'signup.remind_at', not a function"):
        flow.sleep_until("remind", depends_on=["create"], at=lambda deps: deps["create"]["at"])


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"timeout": 0}, "more than 0"), ({"timeout": -5}, "more than 0"), ({"timeout": "2d"}, "timedelta"),
    ({"early_signals": "drop"}, "'keep' or 'reject'"), ({"max_attempts": 3}, "runs no handler"),
])
def test_bad_signal_options(kwargs, words):
    with pytest.raises(FlowDefinitionError, match=words):
        _order().signal("approval", depends_on=["create"], **kwargs)


def test_subflow_and_map_of_subflows():
    child = pgflow.Flow("child")

    @child.step
    def work(input):
        return input

    parent = _order()
    parent.subflow(child, depends_on=["create"], input="create.order")
    items = parent.array(lambda deps: [1, 2], slug="items", depends_on=["create"])
    parent.subflow(child, slug="each", array=items)
    rows = {r["step_slug"]: r for r in parent.wait_rows()}
    assert (rows["child"]["child_flow_slug"], rows["child"]["input_path"]) == ("child", ["create", "order"])
    assert parent.get_step("each").step_type == "map"


def test_subflow_cycle_is_refused_at_definition():
    a = pgflow.Flow("a")
    b = pgflow.Flow("b")
    b.subflow(a)
    with pytest.raises(FlowDefinitionError, match=r"subflow cycle \(a -> b -> a\)"):
        a.subflow(b)
    with pytest.raises(FlowDefinitionError, match="subflow cycle"):
        a.subflow(a)


def test_subflows_nest_at_most_ten_levels():
    flows = [pgflow.Flow(f"level{i}") for i in range(12)]
    flows[0].sleep("nap", duration=1)
    for upper, lower in zip(flows[1:11], flows[:10]):
        upper.subflow(lower)
    with pytest.raises(FlowDefinitionError, match="11 levels deep; at most 10"):
        flows[11].subflow(flows[10])
