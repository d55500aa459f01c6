from tests.sql.helpers import define_flow, fail_task, read_and_start, register_worker, run_row, scalar, start_flow
from tests.sql.retry_run.helpers import retry_run


def _failed_run(conn):
    define_flow(conn, "f", [("a", []), ("b", ["a"])], max_attempts=1)
    run_id = start_flow(conn, "f", {"order": 42})
    read_and_start(conn, "f", register_worker(conn, "f"))
    fail_task(conn, run_id, "a", 0, "boom")
    assert run_row(conn, run_id)["status"] == "failed"
    return run_id


def test_a_new_run_of_the_same_flow_and_input_names_the_original(conn):
    original = _failed_run(conn)

    retried = retry_run(conn, original)

    new = run_row(conn, retried)
    assert retried != original
    assert (new["flow_slug"], new["input"], new["status"], new["retry_of"]) == ("f", {"order": 42}, "started", original)
    assert scalar(conn, "SELECT count(*) FROM pgflow.step_tasks WHERE run_id = %s AND status = 'queued'",
                  (retried,)) == 1


def test_the_original_is_left_as_it_was(conn):
    original = _failed_run(conn)
    before = run_row(conn, original)

    retry_run(conn, original)

    assert run_row(conn, original) == before


def test_each_retry_is_one_more_run(conn):
    original = _failed_run(conn)

    assert retry_run(conn, original) != retry_run(conn, original)
    assert scalar(conn, "SELECT count(*) FROM pgflow.runs WHERE retry_of = %s", (original,)) == 2


def test_a_retry_does_not_take_the_original_key(conn):
    original = _failed_run(conn)
    conn.execute("UPDATE pgflow.runs SET idempotency_key = 'k' WHERE run_id = %s", (original,))

    assert run_row(conn, retry_run(conn, original))["idempotency_key"] is None


def test_a_cancelled_run_is_retried(conn):
    define_flow(conn, "f", [("a", [])])
    original = start_flow(conn, "f", {"order": 1})
    conn.execute("SELECT pgflow.cancel_run(%s, 'stop')", (original,))

    assert run_row(conn, retry_run(conn, original))["retry_of"] == original
