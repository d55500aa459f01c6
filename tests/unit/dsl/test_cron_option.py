"""cron= on flows and jobs is coerced with pgflow.Cron.coerce (pgflow/dsl/cron.py, the schedules part)."""

from __future__ import annotations

import pytest

from pgflow import Cron, Flow, Job, ScheduleError


def test_no_cron_by_default():
    assert Flow("f").cron is None and Job("j").cron is None


def test_a_string_becomes_a_utc_cron():
    flow = Flow("nightly", cron="0  3 * * *")
    assert isinstance(flow.cron, Cron)
    assert (flow.cron.expression, flow.cron.timezone, flow.cron.input) == ("0 3 * * *", "UTC", {})


def test_a_cron_object_is_kept():
    cron = Cron("@hourly", input={"kind": "sweep"}, timezone="Europe/Berlin")
    job = Job("sweep", cron=cron)
    assert job.cron is cron


def test_invalid_cron_fails_at_definition_time():
    with pytest.raises(ScheduleError):
        Flow("f", cron="every day")
    with pytest.raises(ScheduleError, match="cron= takes a cron expression string or pgflow.Cron"):
        Job("j", cron=5)
