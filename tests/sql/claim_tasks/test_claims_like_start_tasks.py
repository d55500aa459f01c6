"""claim_tasks reads and claims in one call, with start_tasks' results and effects."""

from tests.sql.helpers import (complete_task, define_flow, queue_messages, register_worker, rows, scalar,
                               start_flow, task)


def claim(conn, flow, worker, qty=10):
    return rows(conn, "SELECT * FROM pgflow.claim_tasks(%s, %s, %s)", (flow, qty, worker))


def test_claims_the_oldest_messages_with_inputs_and_attempts(conn):
    define_flow(conn, "each", [("sq", [], {"step_type": "map"})])
    run_id = start_flow(conn, "each", [5, 6, 7])
    worker = register_worker(conn, "each")
    claimed = claim(conn, "each", worker, qty=2)
    assert [(c["task_index"], c["input"], c["attempt"], c["messages"]) for c in claimed] == [(0, 5, 1, 2), (1, 6, 1, 2)]
    assert claimed[0]["flow_input"] is None and claimed[0]["run_id"] == run_id
    started = task(conn, run_id, "sq", 0)
    assert (started["status"], started["attempts_count"], started["last_worker_id"]) == ("started", 1, worker)
    assert task(conn, run_id, "sq", 2)["status"] == "queued"


def test_a_root_step_gets_the_flow_input_and_a_dependent_its_dependencies(conn):
    define_flow(conn, "pair", [("a", []), ("b", ["a"])])
    run_id = start_flow(conn, "pair", {"x": 1})
    worker = register_worker(conn, "pair")
    (first,) = claim(conn, "pair", worker)
    assert (first["step_slug"], first["input"], first["flow_input"]) == ("a", {}, {"x": 1})
    complete_task(conn, run_id, "a", 0, {"y": 2})
    (second,) = claim(conn, "pair", worker)
    assert (second["step_slug"], second["input"], second["flow_input"]) == ("b", {"a": {"y": 2}}, None)


def test_messages_are_hidden_for_the_step_timeout_plus_two_seconds(conn):
    define_flow(conn, "slow", [("s", [], {"timeout": 30})])
    start_flow(conn, "slow", {})
    claim(conn, "slow", register_worker(conn, "slow"))
    (message,) = queue_messages(conn, "slow")
    hidden = scalar(conn, "SELECT extract(epoch FROM %s - clock_timestamp())", (message["vt"],))
    assert 31 < hidden <= 32
    assert message["read_ct"] == 1


def test_an_empty_queue_gives_no_row(conn):
    define_flow(conn, "idle", [("s", [])])
    assert claim(conn, "idle", register_worker(conn, "idle")) == []


def test_messages_without_a_startable_task_give_one_row_with_the_count(conn):
    define_flow(conn, "gone", [("s", [])])
    run_id = start_flow(conn, "gone", {})
    conn.execute("UPDATE pgflow.runs SET status = 'failed', failed_at = now() WHERE run_id = %s", (run_id,))
    (only,) = claim(conn, "gone", register_worker(conn, "gone"))
    assert only["messages"] == 1 and only["run_id"] is None


def test_a_dependent_map_task_gets_its_element_of_the_mapped_output(conn):
    define_flow(conn, "fan", [("items", []), ("each", ["items"], {"step_type": "map"})])
    run_id = start_flow(conn, "fan", {})
    worker = register_worker(conn, "fan")
    claim(conn, "fan", worker)
    complete_task(conn, run_id, "items", 0, [10, {"b": 2}, None])
    claimed = claim(conn, "fan", worker)
    assert [(c["step_slug"], c["task_index"], c["input"]) for c in claimed] == [
        ("each", 0, 10), ("each", 1, {"b": 2}), ("each", 2, None)]
