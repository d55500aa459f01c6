"""The reporter's statement parameter: outcomes as one JSON array."""

from __future__ import annotations

import json
import uuid

from pgflow.worker.executor import ClaimedTask, Outcome
from pgflow.worker.reporter import _rounds, outcomes_json


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
