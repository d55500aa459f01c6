from tests.sql.helpers import (complete_task, define_flow, fail_task, queue_messages, read_and_start,
                               register_worker, run_row, start_flow, step_state)


def test_skip_lets_the_run_go_on_without_the_step(conn):
    define_flow(conn, "opt", [("root", []),
                              ("enrich", ["root"], {"max_attempts": 1, "when_exhausted": "skip"}),
                              ("keep", ["root"]),
                              ("save", ["enrich", "keep"]),
                              ("each", ["enrich"], {"step_type": "map"})])
    run_id = start_flow(conn, "opt", {})
    worker = register_worker(conn, "opt")
    read_and_start(conn, "opt", worker)
    complete_task(conn, run_id, "root", 0, 1)
    read_and_start(conn, "opt", worker)

    [returned] = fail_task(conn, run_id, "enrich", 0, "service down")

    assert returned["status"] == "failed"
    enrich = step_state(conn, run_id, "enrich")
    assert (enrich["status"], enrich["skip_reason"], enrich["error_message"]) == (
        "skipped", "handler_failed", "service down")
    assert enrich["remaining_tasks"] is None and enrich["skipped_at"] is not None
    # the map over the skipped step's output completes empty; save still waits for keep
    assert (step_state(conn, run_id, "each")["status"], step_state(conn, run_id, "each")["output"]) == ("completed", [])
    assert step_state(conn, run_id, "save")["remaining_deps"] == 1
    assert run_row(conn, run_id)["remaining_steps"] == 2

    complete_task(conn, run_id, "keep", 0, "k")
    [save] = read_and_start(conn, "opt", worker)
    assert save["input"] == {"keep": "k"}
    complete_task(conn, run_id, "save", 0, "saved")
    run = run_row(conn, run_id)
    assert (run["status"], run["output"]) == ("completed", {"save": "saved", "each": []})
    assert queue_messages(conn, "opt") == []


def test_late_completion_of_a_sibling_after_the_skip_changes_nothing(conn):
    define_flow(conn, "opt", [("each", [], {"step_type": "map", "max_attempts": 1, "when_exhausted": "skip"})])
    run_id = start_flow(conn, "opt", [1, 2])
    read_and_start(conn, "opt", register_worker(conn, "opt"))
    fail_task(conn, run_id, "each", 0, "bad")
    assert queue_messages(conn, "opt") == []
    run_before = run_row(conn, run_id)
    assert run_before["status"] == "completed"

    [late] = complete_task(conn, run_id, "each", 1, "late")

    assert (late["status"], late["output"]) == ("skipped", None)
    assert step_state(conn, run_id, "each")["status"] == "skipped"
    assert run_row(conn, run_id) == run_before
