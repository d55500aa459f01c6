from tests.sql.helpers import (archived_messages, complete_task, define_flow, fail_task, queue_messages,
                               read_and_start, register_worker, run_row, start_flow, step_state, task)


def test_completion_after_the_run_failed_changes_nothing(conn):
    define_flow(conn, "pair", [("doomed", [], {"max_attempts": 1}), ("slow", [])])
    run_id = start_flow(conn, "pair", {})
    worker = register_worker(conn, "pair")
    read_and_start(conn, "pair", worker)
    fail_task(conn, run_id, "doomed", 0, "boom")
    before = (task(conn, run_id, "slow"), step_state(conn, run_id, "slow"), run_row(conn, run_id))

    [returned] = complete_task(conn, run_id, "slow", 0, {"late": True})

    assert returned == before[0]
    assert (task(conn, run_id, "slow"), step_state(conn, run_id, "slow"), run_row(conn, run_id)) == before
    assert returned["status"] == "cancelled"


def test_second_completion_of_a_task_changes_nothing(conn):
    define_flow(conn, "chain", [("first", []), ("second", ["first"])])
    run_id = start_flow(conn, "chain", {})
    worker = register_worker(conn, "chain")
    read_and_start(conn, "chain", worker)
    complete_task(conn, run_id, "first", 0, 1)
    messages = (queue_messages(conn, "chain"), archived_messages(conn, "chain"))

    [returned] = complete_task(conn, run_id, "first", 0, 2)

    assert (returned["status"], returned["output"]) == ("completed", 1)
    assert step_state(conn, run_id, "first")["output"] == 1
    assert step_state(conn, run_id, "second")["remaining_deps"] == 0
    assert run_row(conn, run_id)["remaining_steps"] == 1
    assert (queue_messages(conn, "chain"), archived_messages(conn, "chain")) == messages
