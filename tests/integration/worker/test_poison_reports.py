"""A report the database keeps refusing fails its task with the refusal as its error, instead of
leaving the task started to be requeued as stalled, run again and refused again, forever."""

from __future__ import annotations

import pgflow
from tests.integration.worker.conftest import finished, rows, running
from pgflow.worker.reporter import REPORT_TRIES

# refuses the completion of any task whose output says {"poison": true}, as a user's trigger or
# constraint might; counts the refusals in a table
REFUSE = """
CREATE TABLE public.refusals (n serial PRIMARY KEY);
CREATE FUNCTION public.refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'completed' AND NEW.output @> '{"poison": true}' THEN
        INSERT INTO public.refusals DEFAULT VALUES;  -- rolled back with the refused statement
        RAISE EXCEPTION 'poison output refused by a trigger';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_poison BEFORE UPDATE ON pgflow.step_tasks
    FOR EACH ROW EXECUTE FUNCTION public.refuse_poison();
"""


async def test_a_completion_the_database_refuses_fails_the_task_with_why_and_the_others_complete(db_url, client):
    await rows(db_url, REFUSE)
    job = pgflow.Job("refused", max_attempts=2, base_delay=1, timeout=60)
    calls: list[int] = []

    @job.perform
    def handler(input, ctx):
        calls.append(ctx.attempt)
        return {"poison": True} if input["poison"] else {"fine": input["n"]}

    async with running(db_url, [job], max_concurrency=10, batch_size=10) as worker:
        poisoned = await client.enqueue(job, {"poison": True})
        fine = [await client.enqueue(job, {"poison": False, "n": n}) for n in range(5)]
        run = await finished(client, poisoned, timeout=30)
        for n, run_id in enumerate(fine):
            assert (await finished(client, run_id, timeout=30)).output == {"refused": {"fine": n}}
    assert run.status == "failed"
    task = run.step("refused").tasks[0]
    # each attempt ran once and was failed by its refused report: no stall, no endless loop
    assert task.attempts_count == 2
    assert calls.count(1) + calls.count(2) == len(calls) and calls.count(2) == 1
    assert task.error_message.startswith(
        f"ReportRefused: the database refused this task's completion {REPORT_TRIES} times (RaiseException: "
        f"poison output refused by a trigger)")
    assert worker.failed == 2  # the refusals count as failures, not completions
