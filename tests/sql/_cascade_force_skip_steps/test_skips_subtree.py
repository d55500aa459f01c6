from tests.sql.helpers import (archived_messages, define_flow, mark_step_completed, queue_messages, run_row,
                               scalar, start_flow, step_state)


def test_skips_the_step_and_its_descendants_and_archives_their_messages(conn):
    define_flow(conn, "f", [
        ("a", []),
        ("b", []),
        ("b_child", ["b"]),
        ("b_grandchild", ["b_child", "a"]),
        ("a_child", ["a"]),
    ])
    run_id = start_flow(conn, "f", {})

    count = scalar(conn, "SELECT pgflow._cascade_force_skip_steps(%s, 'b', 'handler_failed')", (run_id,))

    assert count == 3
    states = {slug: step_state(conn, run_id, slug) for slug in ("a", "b", "b_child", "b_grandchild", "a_child")}
    assert {slug: (s["status"], s["skip_reason"]) for slug, s in states.items()} == {
        "a": ("started", None),
        "b": ("skipped", "handler_failed"),
        "b_child": ("skipped", "dependency_skipped"),
        "b_grandchild": ("skipped", "dependency_skipped"),
        "a_child": ("created", None),
    }
    assert states["b"]["remaining_tasks"] is None and states["b"]["skipped_at"] is not None
    assert run_row(conn, run_id)["remaining_steps"] == 2
    assert [m["message"]["step_slug"] for m in queue_messages(conn, "f")] == ["a"]
    assert [m["message"]["step_slug"] for m in archived_messages(conn, "f")] == ["b"]


def test_finished_steps_keep_their_state(conn):
    define_flow(conn, "f", [("a", []), ("b", ["a"])])
    run_id = start_flow(conn, "f", {})
    mark_step_completed(conn, run_id, "a", 1)

    count = scalar(conn, "SELECT pgflow._cascade_force_skip_steps(%s, 'a', 'condition_unmet')", (run_id,))

    assert count == 1
    assert step_state(conn, run_id, "a")["status"] == "completed"
    assert (step_state(conn, run_id, "b")["status"], step_state(conn, run_id, "b")["skip_reason"]) == (
        "skipped", "dependency_skipped")
    assert run_row(conn, run_id)["remaining_steps"] == 1
