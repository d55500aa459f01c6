import psycopg

from tests.sql.helpers import define_flow, drain_notifies, listener, start_flow


def test_skip_emits_step_skipped(db_url):
    with listener(db_url) as listen, psycopg.connect(db_url) as conn:
        define_flow(conn, "f", [("a", []), ("vip", [], {"required_input_pattern": {"vip": True}})])
        run_id = start_flow(conn, "f", {})
        conn.commit()
        events = drain_notifies(listen, timeout=5, stop_after=3)

    assert [e["event_type"] for e in events] == ["run:started", "step:skipped", "step:started"]
    skipped = events[1]
    assert {k: skipped[k] for k in ("run_id", "flow_slug", "step_slug", "status", "skip_reason")} == {
        "run_id": str(run_id), "flow_slug": "f", "step_slug": "vip", "status": "skipped",
        "skip_reason": "condition_unmet"}
    assert skipped["skipped_at"]


def test_fail_emits_step_failed_then_run_failed(db_url):
    with listener(db_url) as listen, psycopg.connect(db_url) as conn:
        define_flow(conn, "f", [("vip", [], {"required_input_pattern": {"vip": True}, "when_unmet": "fail"})])
        run_id = start_flow(conn, "f", {})
        conn.commit()
        events = drain_notifies(listen, timeout=5, stop_after=3)

    assert [e["event_type"] for e in events] == ["run:started", "step:failed", "run:failed"]
    step, run = events[1], events[2]
    assert {k: step[k] for k in ("run_id", "flow_slug", "step_slug", "status", "error_message")} == {
        "run_id": str(run_id), "flow_slug": "f", "step_slug": "vip", "status": "failed",
        "error_message": "Condition not met"}
    assert step["failed_at"]
    assert {k: run[k] for k in ("run_id", "flow_slug", "status", "error_message", "failed_step_slug")} == {
        "run_id": str(run_id), "flow_slug": "f", "status": "failed", "error_message": "Condition not met",
        "failed_step_slug": "vip"}
    assert run["failed_at"]
