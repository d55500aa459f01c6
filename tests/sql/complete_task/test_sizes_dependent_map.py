from tests.sql.helpers import (complete_task, define_flow, queue_messages, read_and_start, register_worker, run_row,
                               start_flow, step_state)


def test_array_output_gives_the_dependent_map_one_task_per_element(conn):
    define_flow(conn, "fan", [("list", []), ("each", ["list"], {"step_type": "map"})])
    run_id = start_flow(conn, "fan", {})
    worker = register_worker(conn, "fan")
    read_and_start(conn, "fan", worker)
    complete_task(conn, run_id, "list", 0, ["a", "b", "c"])

    each = step_state(conn, run_id, "each")
    assert (each["status"], each["initial_tasks"], each["remaining_tasks"]) == ("started", 3, 3)
    assert sorted(m["message"]["task_index"] for m in queue_messages(conn, "fan")) == [0, 1, 2]
    inputs = sorted((t["task_index"], t["input"]) for t in read_and_start(conn, "fan", worker))
    assert inputs == [(0, "a"), (1, "b"), (2, "c")]
    assert run_row(conn, run_id)["remaining_steps"] == 1
