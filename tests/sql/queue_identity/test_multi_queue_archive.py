from tests.sql.helpers import archived_messages, compile_flow, fail_task, read_and_start_step, register_worker, rows, start_flow


def test_a_failing_run_archives_the_messages_of_every_step_queue(conn):
    # two root steps, each with its own queue; a's failure cancels b's task in b's queue
    compile_flow(conn, "two", [("a", []), ("b", [])], "step")
    conn.execute("UPDATE pgflow.flows SET opt_max_attempts = 1 WHERE flow_slug = 'two'")
    run_id = start_flow(conn, "two")
    worker = register_worker(conn, "two__a")
    read_and_start_step(conn, "two", "a", "two__a", worker)
    fail_task(conn, run_id, "a", 0, "boom")

    tasks = rows(conn, "SELECT step_slug, status, message_id FROM pgflow.step_tasks WHERE run_id = %s ORDER BY 1",
                 (run_id,))
    assert [(t["step_slug"], t["status"]) for t in tasks] == [("a", "failed"), ("b", "cancelled")]
    assert [m["msg_id"] for m in archived_messages(conn, "two__a")] == [tasks[0]["message_id"]]
    assert [m["msg_id"] for m in archived_messages(conn, "two__b")] == [tasks[1]["message_id"]]


def test_a_skip_cascade_archives_in_every_queue_it_reaches(conn):
    # a map's tasks stay queued in its queue while the cascade from a skipped root reaches it
    compile_flow(conn, "cascade", [("a", [], {"when_exhausted": "skip-cascade"}), ("m", [], {"step_type": "map"}),
                                   ("c", ["a", "m"])], "step")
    conn.execute("UPDATE pgflow.flows SET opt_max_attempts = 1 WHERE flow_slug = 'cascade'")
    run_id = start_flow(conn, "cascade", [1, 2])
    read_and_start_step(conn, "cascade", "a", "cascade__a", register_worker(conn, "cascade__a"))
    conn.execute("SELECT pgflow._cascade_force_skip_steps(%s, 'm', 'forced')", (run_id,))
    fail_task(conn, run_id, "a", 0, "boom")

    statuses = rows(conn, "SELECT step_slug, status FROM pgflow.step_tasks WHERE run_id = %s ORDER BY 1, task_index",
                    (run_id,))
    assert statuses == [{"step_slug": "a", "status": "failed"}, {"step_slug": "m", "status": "skipped"},
                        {"step_slug": "m", "status": "skipped"}]
    assert len(archived_messages(conn, "cascade__m")) == 2
    assert len(archived_messages(conn, "cascade__a")) == 1
