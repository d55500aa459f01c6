"""run_inline with waiting steps: signals up front or by a callback, virtual time, subflows."""

from __future__ import annotations

from datetime import timedelta

import pytest

import pgflow
from pgflow.errors import PgFlowError
from pgflow.testing import NO_SIGNAL, run_inline


def _approval(**signal_options):
    flow = pgflow.Flow("approval_inline")

    @flow.step
    def create(input):
        return {"order": input["order"]}

    flow.signal("approve", depends_on=[create], **signal_options)

    @flow.step(depends_on=["approve"])
    def ship(deps):
        return deps["approve"]

    return flow


def test_signal_given_up_front():
    run = run_inline(_approval(), {"order": 1}, signals={"approve": {"by": "ann"}})
    assert run.output == {"ship": {"by": "ann"}}
    assert run.step("approve").attempts == 1


def test_signal_by_callback_sees_the_step_input():
    seen = []

    def answer(step, step_input):
        seen.append((step, step_input))
        return "yes"

    assert run_inline(_approval(), {"order": 2}, signals=answer).output == {"ship": "yes"}
    assert seen == [("approve", {"create": {"order": 2}})]


def test_no_signal_times_out_with_default_or_failure():
    assert run_inline(_approval(timeout=60, default="nobody"), {"order": 1}).output == {"ship": "nobody"}
    run = run_inline(_approval(timeout=60), {"order": 1}, signals=lambda step, _: NO_SIGNAL,
                     raise_on_failure=False)
    assert run.status == "failed"
    assert run.step("approve").error_message == "Timed out: no signal for step 'approve' within 0:01:00"


def test_no_signal_and_no_timeout_says_what_to_pass():
    with pytest.raises(PgFlowError, match=r"pass signals=\{'approve': <payload>\}"):
        run_inline(_approval(), {"order": 1})


def test_sleep_until_on_virtual_time():
    flow = pgflow.Flow("remind_inline")
    flow.sleep_until("nap", at="at", offset=timedelta(minutes=-1))

    @flow.step(depends_on=["nap"])
    def remind(deps):
        return deps["nap"]["slept_until"]

    run = run_inline(flow, {"at": "2030-01-01T00:00:00+00:00"})
    assert run.output == {"remind": "2029-12-31T23:59:00+00:00"}
    failed = run_inline(flow, {"at": "soon"}, raise_on_failure=False)
    assert "its input has no time at at (got \"soon\")" in failed.step("nap").error_message


def test_map_of_subflows_inline():
    child = pgflow.Flow("double_inline")

    @child.step
    def double(n):
        return n * 2

    parent = pgflow.Flow("parent_inline")
    parent.subflow(child, slug="each", array=parent.array(lambda input: input, slug="items"))
    assert run_inline(parent, [1, 2, 3]).output == {"each": [{"double": 2}, {"double": 4}, {"double": 6}]}
