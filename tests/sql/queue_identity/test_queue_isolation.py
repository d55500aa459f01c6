from tests.sql.helpers import define_flow, register_worker, rows, start_flow


def test_start_tasks_claims_only_tasks_whose_message_went_to_the_given_queue(conn):
    define_flow(conn, "f", [("a", [])])
    define_flow(conn, "g", [("a", [])])
    run_f = start_flow(conn, "f")
    run_g = start_flow(conn, "g")
    # pgmq numbers each queue on its own: the first message of f and of g share an id
    ids = {r["run_id"]: r["message_id"] for r in rows(conn, "SELECT run_id, message_id FROM pgflow.step_tasks")}
    assert ids[run_f] == ids[run_g]
    worker = register_worker(conn, "f")

    claimed = rows(conn, "SELECT run_id FROM pgflow.start_tasks('f', %s, %s, 'f')", ([ids[run_f]], worker))
    assert claimed == [{"run_id": run_f}]
    assert rows(conn, "SELECT status FROM pgflow.step_tasks WHERE run_id = %s", (run_g,)) == [{"status": "queued"}]


def test_a_queue_that_is_not_the_tasks_claims_nothing(conn):
    define_flow(conn, "f", [("a", [])])
    run_id = start_flow(conn, "f")
    msg = rows(conn, "SELECT message_id FROM pgflow.step_tasks WHERE run_id = %s", (run_id,))[0]["message_id"]
    assert rows(conn, "SELECT * FROM pgflow.start_tasks('f', %s, %s, 'other')",
                ([msg], register_worker(conn, "f"))) == []


def test_an_unknown_flow_claims_nothing(conn):
    assert rows(conn, "SELECT * FROM pgflow.start_tasks('nope', ARRAY[1]::bigint[], %s, 'nope')",
                (register_worker(conn, "nope"),)) == []
