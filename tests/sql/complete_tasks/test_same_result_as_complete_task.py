"""complete_tasks leaves every table as complete_task called once per task would."""

import pytest

from tests.sql.complete_tasks.batch import archived_count, drive, snapshot
from tests.sql.helpers import define_flow, register_worker, start_flow

FLOWS = {
    "job": ([("only", [])], {"n": 1}),
    "chain": ([("a", []), ("b", ["a"]), ("c", ["b"])], {}),
    "diamond": ([("top", []), ("left", ["top"]), ("right", ["top"]), ("bottom", ["left", "right"])], {}),
    "root_map": ([("each", [], {"step_type": "map"}), ("total", ["each"])], [1, 2, 3, 4, 5]),
    "fan_out": ([("items", []), ("each", ["items"], {"step_type": "map"}), ("after", ["each"])], {}),
    "empty_map": ([("items", []), ("each", ["items"], {"step_type": "map"}), ("after", ["each"])], "empty"),
    "condition": ([("a", []), ("met", ["a"], {"required_input_pattern": {"a": {"step": "a"}}}),
                   ("unmet", ["a"], {"required_input_pattern": {"a": {"step": "b"}}}), ("end", ["met"])], {}),
}


@pytest.mark.parametrize("flow", FLOWS)
def test_batch_and_one_by_one_leave_the_same_state(conn, flow):
    steps, flow_input = FLOWS[flow]
    results = {}
    for batched in (False, True):
        slug = f"{flow}_{'batch' if batched else 'single'}"
        define_flow(conn, slug, steps)
        empty = flow_input == "empty"
        run_id = start_flow(conn, slug, {} if empty else flow_input)
        worker = register_worker(conn, slug)

        def out(task, empty=empty):
            if task["step_slug"] == "items":
                return [] if empty else [10, 20, 30]
            return {"step": task["step_slug"], "index": task["task_index"], "input": task["input"]}

        drive(conn, slug, worker, out, batched)
        results[batched] = (snapshot(conn, run_id), archived_count(conn, slug, run_id))
    assert results[True] == results[False]
    assert results[True][0]["run"][0]["status"] == "completed"
