"""The reporter: its statement parameter (outcomes as one JSON array) and its batching."""

from __future__ import annotations

import asyncio
import json
import uuid

from pgflow.worker.executor import ClaimedTask, Outcome
from pgflow.worker.reporter import Reporter, _rounds, outcomes_json


def test_outcomes_become_one_json_array_with_outputs_spliced_and_errors_escaped():
    run_a, run_b = uuid.uuid4(), uuid.uuid4()
    done = Outcome(ClaimedTask("f", run_a, "s", None, 1, 3, None), "completed", output_json='{"a":[1,null,"é"]}')
    nothing = Outcome(ClaimedTask("f", run_a, "t", None, 2, 0, None), "completed", output_json="null")
    error = 'KeyError: \'x\'\n  File "h.py", line 1\n\tquote " backslash \\ ünïcode ✓'
    failed = Outcome(ClaimedTask("f", run_b, "s", None, 3, 1, None), "error", error=error)
    assert json.loads(outcomes_json([done, nothing, failed])) == [
        [str(run_a), "s", 3, True, {"a": [1, None, "é"]}],
        [str(run_a), "t", 0, True, None],
        [str(run_b), "s", 1, False, error],
    ]
    assert outcomes_json([]) == "[]"


def test_a_statement_holds_at_most_one_step_per_run_in_run_step_task_order():
    low, high = uuid.UUID(int=1), uuid.UUID(int=2**127)

    def outcome(run_id: uuid.UUID, step: str, index: int) -> Outcome:
        return Outcome(ClaimedTask("f", run_id, step, None, 1, index, None), "completed", output_json="1")

    def keys(rounds: list[list[Outcome]]) -> list[list[tuple[int, str, int]]]:
        return [[(0 if o.task.run_id == low else 1, o.task.step_slug, o.task.task_index) for o in part]
                for part in rounds]

    alone = [outcome(high, "m", 1), outcome(low, "s", 0), outcome(high, "m", 0)]
    assert keys(_rounds(alone)) == [[(0, "s", 0), (1, "m", 0), (1, "m", 1)]]
    mixed = [outcome(high, "b", 0), outcome(low, "a", 0), outcome(high, "a", 0), outcome(high, "b", 1)]
    assert keys(_rounds(mixed)) == [[(0, "a", 0), (1, "a", 0)], [(1, "b", 0), (1, "b", 1)]]


class _Recorded(Reporter):
    """The batching policy alone: what each report would have sent (the SQL is tested elsewhere)."""

    def __init__(self, linger: float, busy: bool) -> None:
        super().__init__(None, lambda batch, finished: None, max_batch=4, linger=linger,  # type: ignore[arg-type]
                         busy=lambda: busy)
        self.batches: list[int] = []

    async def _report(self, batch: list[Outcome]) -> list[dict]:
        self.batches.append(len(batch))
        return []


async def _feed(reporter: _Recorded, count: int) -> None:
    """Submit ``count`` outcomes 20 ms apart, then let the reporter finish."""
    runner = asyncio.create_task(reporter.run())
    for index in range(count):
        reporter.submit(Outcome(ClaimedTask("f", uuid.uuid4(), "s", None, 1, index, None), "completed",
                                output_json="null"))
        await asyncio.sleep(0.02)
    reporter.close(timeout=1.0)
    await asyncio.wait_for(runner, 5)


async def test_a_busy_worker_lingers_to_report_outcomes_together():
    busy = _Recorded(linger=0.5, busy=True)
    await _feed(busy, 3)
    assert busy.batches == [3]  # the first outcome waited for the next two

    idle = _Recorded(linger=0.5, busy=False)
    await _feed(idle, 3)
    assert idle.batches == [1, 1, 1]  # nothing else being claimed: each reported at once

    never = _Recorded(linger=0.0, busy=True)
    await _feed(never, 3)
    assert never.batches == [1, 1, 1]


async def test_no_lingering_once_half_a_batch_is_waiting():
    full = _Recorded(linger=5.0, busy=True)  # max_batch 4: two queued outcomes are enough
    runner = asyncio.create_task(full.run())
    for index in range(2):
        full.submit(Outcome(ClaimedTask("f", uuid.uuid4(), "s", None, 1, index, None), "completed", output_json="1"))
    await asyncio.sleep(0.2)
    assert full.batches == [2]  # reported without the 5 s linger
    full.close(timeout=1.0)
    await asyncio.wait_for(runner, 2)
