"""Poison data never stalls a run: what jsonb cannot hold ends the task (or the call) at once,
with an error that says what is wrong, and a real worker keeps serving."""

from __future__ import annotations

import asyncio

import pytest

import pgflow
from tests.integration.worker.conftest import finished, running


def _deep(levels: int) -> list:
    value: list = []
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("output", "says"),
    [
        ({"name": "caf\ud800"}, "lone UTF-16 surrogate"),
        (_deep(5000), "nested too deeply"),
        ({"blob": "a\x00b"}, "NUL character"),
    ],
    ids=["lone-surrogate", "5000-deep", "nul"],
)
async def test_an_output_jsonb_cannot_hold_fails_the_task_at_once_with_a_clear_error(db_url, client, output, says):
    job = pgflow.Job("poison_out", max_attempts=1, timeout=60)

    @job.perform
    def handler(input):
        return output

    async with running(db_url, [job]):
        run = await finished(client, await client.enqueue(job, {}), timeout=20)
    assert run.status == "failed"
    task = run.step("poison_out").tasks[0]
    # failed by its first attempt's report: not requeued as stalled, not a TaskTimeout
    assert task.attempts_count == 1
    assert task.error_message.startswith("NonSerializableOutput: step 'poison_out' returned")
    assert says in task.error_message


@pytest.mark.parametrize(
    ("value", "says"),
    [({"text": "a\x00b"}, "NUL character"), (_deep(5000), "nested too deeply"), ({"s": "\udfff"}, "surrogate")],
    ids=["nul", "5000-deep", "lone-surrogate"],
)
async def test_an_input_jsonb_cannot_hold_is_refused_by_start_flow_as_invalid_input(db_url, client, value, says):
    job = pgflow.Job("poison_in")

    @job.perform
    def handler(input):
        return None

    async with running(db_url, [job]):
        with pytest.raises(pgflow.InvalidInput, match=says):
            await client.start_flow(job, value)
        with pytest.raises(pgflow.InvalidInput, match=says):
            await client.enqueue(job, value)
        # the worker and the client are fine: the next run completes
        run = await finished(client, await client.enqueue(job, {"text": "ok"}), timeout=20)
    assert run.status == "completed"


@pytest.mark.parametrize("raised", [SystemExit(3), KeyboardInterrupt(), GeneratorExit()],
                         ids=["SystemExit", "KeyboardInterrupt", "GeneratorExit"])
@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_a_handler_raising_system_exit_fails_its_task_and_the_worker_keeps_serving(
        db_url, client, raised, kind):
    job = pgflow.Job("quitter", max_attempts=1)

    if kind == "async":
        @job.perform
        async def handler(input):
            await asyncio.sleep(0)
            if input.get("quit"):
                raise raised
            return {"served": input["n"]}
    else:
        @job.perform
        def handler(input):
            if input.get("quit"):
                raise raised
            return {"served": input["n"]}

    async with running(db_url, [job], max_concurrency=4) as worker:
        quitting = await client.enqueue(job, {"quit": True})
        served = [await client.enqueue(job, {"n": n}) for n in range(3)]
        run = await finished(client, quitting, timeout=20)
        assert run.status == "failed"
        error = run.step("quitter").tasks[0].error_message
        assert error.startswith(f"{type(raised).__name__}: the handler raised {type(raised).__name__}(")
        assert "it fails only this task" in error
        for run_id in served:
            assert (await finished(client, run_id, timeout=20)).output == {"quitter": {"served": served.index(run_id)}}
        assert worker.state == "running"
        # still serving after it
        later = await finished(client, await client.enqueue(job, {"n": 7}), timeout=20)
        assert later.status == "completed"


class _Broken(dict):
    """A mapping whose items cannot be read (its encoding raises, not a TypeError)."""

    def items(self):
        raise LookupError("this mapping cannot be read")

    def __iter__(self):
        raise LookupError("this mapping cannot be read")


async def test_an_output_whose_encoding_raises_fails_the_task_at_once(db_url, client):
    job = pgflow.Job("broken_out", max_attempts=1, timeout=60)

    @job.perform
    def handler(input):
        return _Broken(a=1)

    async with running(db_url, [job]):
        run = await finished(client, await client.enqueue(job, {}), timeout=20)
    task = run.step("broken_out").tasks[0]
    assert task.attempts_count == 1
    assert task.error_message.startswith("NonSerializableOutput: step 'broken_out' returned _Broken, which raised")
    assert "LookupError: this mapping cannot be read" in task.error_message


class _Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("no text for you")


@pytest.mark.parametrize(
    ("raised", "stored"),
    [(ValueError("bad \ud800 text\x00"), "ValueError: bad \\ud800 text\\x00"),
     (_Unprintable(), "_Unprintable: <str() of the exception failed>")],
    ids=["lone-surrogate-and-nul", "str-fails"],
)
async def test_an_exception_whose_text_postgresql_cannot_store_still_fails_the_task_with_it(
        db_url, client, raised, stored):
    job = pgflow.Job("odd_error", max_attempts=1, timeout=60)

    @job.perform
    def handler(input):
        raise raised

    async with running(db_url, [job]):
        run = await finished(client, await client.enqueue(job, {}), timeout=20)
    task = run.step("odd_error").tasks[0]
    assert task.attempts_count == 1 and task.error_message.startswith(stored)
