import psycopg

from pgflow.events import parse_event

from tests.sql.helpers import define_flow, drain_notifies, fail_task, listener, read_and_start, register_worker, start_flow


def _claimed_run(conn, listen, max_attempts):
    define_flow(conn, "ev", [("flaky", [], {"max_attempts": max_attempts, "base_delay": 4})])
    run_id = start_flow(conn, "ev", {})
    read_and_start(conn, "ev", register_worker(conn, "ev"))
    conn.commit()
    drain_notifies(listen, timeout=2, stop_after=3)  # run:started, step:started, task:started
    return run_id


def test_a_retried_failure_says_when_the_task_runs_again(db_url):
    with psycopg.connect(db_url) as conn, listener(db_url) as listen:
        run_id = _claimed_run(conn, listen, max_attempts=2)
        fail_task(conn, run_id, "flaky", 0, "flaky network")
        assert drain_notifies(listen, timeout=0.2) == []
        vt = conn.execute("SELECT vt FROM pgmq.q_ev").fetchone()[0]
        conn.commit()
        [event] = drain_notifies(listen, timeout=5, stop_after=1)

    assert event["event_type"] == "task:failed"
    assert (event["step_slug"], event["task_index"], event["status"], event["attempt"]) == ("flaky", 0, "queued", 1)
    assert (event["error_message"], event["will_retry"]) == ("flaky network", True)
    assert parse_event(event).retry_at == vt
    assert event["failed_at"]


def test_the_last_failure_emits_task_then_step_then_run_failed(db_url):
    with psycopg.connect(db_url) as conn, listener(db_url) as listen:
        run_id = _claimed_run(conn, listen, max_attempts=1)
        fail_task(conn, run_id, "flaky", 0, "broken for good")
        conn.commit()
        events = drain_notifies(listen, timeout=5, stop_after=3)

    assert [e["event_type"] for e in events] == ["task:failed", "step:failed", "run:failed"]
    task_failed, step_failed, run_failed = events
    assert (task_failed["status"], task_failed["will_retry"], task_failed["retry_at"]) == ("failed", False, None)
    assert (step_failed["step_slug"], step_failed["error_message"]) == ("flaky", "broken for good")
    assert (run_failed["status"], run_failed["failed_step_slug"], run_failed["error_message"]) == (
        "failed", "flaky", "broken for good")
    assert run_failed["run_id"] == str(run_id)
