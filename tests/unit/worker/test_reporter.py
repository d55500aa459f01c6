"""The reporter's statement parameter: outcomes as one JSON array."""

from __future__ import annotations

import json
import uuid

from pgflow.worker.executor import ClaimedTask, Outcome
from pgflow.worker.reporter import outcomes_json


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
