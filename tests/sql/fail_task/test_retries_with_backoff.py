import pytest

from tests.sql.helpers import define_flow, fail_task, read_and_start, register_worker, scalar, start_flow, step_state, task


def _seconds_until_visible(conn, msg_id):
    return scalar(conn, "SELECT extract(epoch FROM vt - clock_timestamp())::float FROM pgmq.q_retry WHERE msg_id = %s",
                  (msg_id,))


def _make_visible(conn, msg_id):
    conn.execute("UPDATE pgmq.q_retry SET vt = clock_timestamp() WHERE msg_id = %s", (msg_id,))


def test_each_retry_hides_the_message_for_base_delay_times_two_to_the_attempts(conn):
    define_flow(conn, "retry", [("flaky", [], {"base_delay": 3})], max_attempts=3)
    run_id = start_flow(conn, "retry", {})
    worker = register_worker(conn, "retry")
    [claimed] = read_and_start(conn, "retry", worker)

    [returned] = fail_task(conn, run_id, "flaky", 0, "first try")
    assert (returned["status"], returned["attempts_count"], returned["error_message"]) == ("queued", 1, "first try")
    assert returned["started_at"] is None
    assert _seconds_until_visible(conn, claimed["msg_id"]) == pytest.approx(6, abs=1)  # 3 * 2^1
    assert read_and_start(conn, "retry", worker) == []

    _make_visible(conn, claimed["msg_id"])
    [again] = read_and_start(conn, "retry", worker)
    assert (again["msg_id"], task(conn, run_id, "flaky")["attempts_count"]) == (claimed["msg_id"], 2)
    fail_task(conn, run_id, "flaky", 0, "second try")
    assert _seconds_until_visible(conn, claimed["msg_id"]) == pytest.approx(12, abs=1)  # 3 * 2^2
    assert step_state(conn, run_id, "flaky")["status"] == "started"


def test_step_option_overrides_the_flow_option(conn):
    define_flow(conn, "retry", [("flaky", [], {"base_delay": 10, "max_attempts": 2})], base_delay=1, max_attempts=1)
    run_id = start_flow(conn, "retry", {})
    [claimed] = read_and_start(conn, "retry", register_worker(conn, "retry"))
    [returned] = fail_task(conn, run_id, "flaky", 0, "boom")
    assert returned["status"] == "queued"
    assert _seconds_until_visible(conn, claimed["msg_id"]) == pytest.approx(20, abs=1)
