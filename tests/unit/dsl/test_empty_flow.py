"""A flow without steps is refused wherever its definition is used, with what to add."""

from __future__ import annotations

import pytest

import pgflow
from pgflow.ops.flows import compile_flow
from pgflow.testing import run_inline
from pgflow.worker.startup import check_flows


def test_an_empty_flow_is_refused_when_compiled_served_or_run_inline() -> None:
    """(its shape stays {"steps": []}, as TypeScript's DSL gives it: the use is refused, not the shape)"""
    report = pgflow.Flow("daily_report", cron=pgflow.Cron("0 9 * * *"))
    uses = (lambda: next(compile_flow(report)), lambda: check_flows([report]), lambda: run_inline(report, {}))
    for use in uses:
        with pytest.raises(pgflow.FlowDefinitionError, match=r"flow 'daily_report' has no steps.*\.step"):
            use()


def test_a_flow_with_a_step_passes() -> None:
    report = pgflow.Flow("daily_report")

    @report.step
    def build(input):
        return 1

    report.require_steps()
    assert run_inline(report, {}).output == {"build": 1}
