"""pgflow.Job: a one-step flow defined with @job.perform."""

from __future__ import annotations

import pytest

from pgflow import Flow, FlowDefinitionError, Job


def test_perform_bare_uses_the_job_slug_and_returns_the_function():
    job = Job("send_email", max_attempts=5, base_delay=10, timeout=120)

    @job.perform
    def deliver(input, ctx):
        return {"sent": input["to"]}

    assert deliver({"to": "a@b"}, None) == {"sent": "a@b"}
    assert isinstance(job, Flow) and job.flow_type == "job"
    (step,) = job.steps
    assert (step.slug, step.handler, step.depends_on, step.takes_context) == ("send_email", deliver, (), True)
    assert job.handler_step is step and job.step("send_email") is step
    assert step.effective_max_attempts(job) == 5 and step.effective_timeout(job) == 120


@pytest.mark.parametrize("form", ["positional", "keyword"])
def test_perform_with_a_step_name(form):
    job = Job("send_email")

    def deliver(input):
        return input

    decorator = job.perform("deliver") if form == "positional" else job.perform(slug="deliver")
    assert decorator(deliver) is deliver
    assert [s.slug for s in job.steps] == ["deliver"]
    assert not job.steps[0].takes_context


def test_async_perform():
    job = Job("cleanup")

    @job.perform
    async def cleanup(input, ctx):
        return None

    assert job.handler_step.is_async


def test_a_job_without_handler_is_an_error_when_used():
    job = Job("lonely")
    message = r"job 'lonely' has no handler; decorate a function with @lonely.perform"
    with pytest.raises(FlowDefinitionError, match=message):
        job.shape()
    with pytest.raises(FlowDefinitionError, match=message):
        job.steps
    with pytest.raises(FlowDefinitionError, match=message):
        job.handler_step


def test_a_job_has_exactly_one_step():
    job = Job("once")
    job.perform(lambda input: input, slug="first")
    with pytest.raises(FlowDefinitionError, match=r"job 'once' already has its handler \(step 'first'\); a job has exactly one @once.perform"):
        job.perform(lambda input: input, slug="second")
    with pytest.raises(FlowDefinitionError, match=r"has exactly one step, defined with @once.perform; for several steps use pgflow.Flow"):
        job.step(lambda input: input)
    with pytest.raises(FlowDefinitionError, match="cannot have map steps"):
        job.map(lambda item: item)
    with pytest.raises(FlowDefinitionError, match="for array and map steps use pgflow.Flow"):
        job.array(lambda input: input)


def test_perform_argument_errors():
    job = Job("j")
    with pytest.raises(FlowDefinitionError, match="give the step name once"):
        job.perform("a", slug="b")
    with pytest.raises(FlowDefinitionError, match="takes a function"):
        job.perform(42)
    with pytest.raises(FlowDefinitionError, match="invalid slug 'not-ok' for a step of job 'j'"):
        job.perform("not-ok")(lambda input: input)


def test_job_from_steps_allows_only_one_step():
    assert [s.slug for s in Job.from_steps("j", [{"slug": "only"}]).steps] == ["only"]
    with pytest.raises(FlowDefinitionError, match="already has its handler"):
        Job.from_steps("j", [{"slug": "a"}, {"slug": "b"}])
