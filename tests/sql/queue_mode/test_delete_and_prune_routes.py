from tests.sql.helpers import (complete_task, compile_flow, define_flow, listed_queues, read_and_start_step,
                               register_worker, scalar, start_flow)


def test_delete_drops_every_queue_the_flows_steps_route_to(conn):
    compile_flow(conn, "f", [("a", []), ("b", [])], "step")
    define_flow(conn, "g", [("a", [])])
    conn.execute("SELECT pgflow.delete_flow_and_data('f')")
    assert listed_queues(conn) == ["g"]


def test_delete_with_a_slug_in_another_case_drops_nothing(conn):
    define_flow(conn, "Orders", [("a", [])])
    conn.execute("SELECT pgflow.delete_flow_and_data('orders')")
    assert listed_queues(conn) == ["orders"]
    assert scalar(conn, "SELECT count(*) FROM pgflow.flows") == 1


def test_prune_deletes_archived_messages_of_every_step_queue(conn):
    compile_flow(conn, "f", [("a", [])], "step")
    run_id = start_flow(conn, "f")
    read_and_start_step(conn, "f", "a", "f__a", register_worker(conn, "f__a"))
    complete_task(conn, run_id, "a", 0, 1)
    conn.execute("UPDATE pgflow.runs SET started_at = now() - interval '2 days', "
                 "completed_at = now() - interval '2 days'")
    conn.execute("UPDATE pgmq.a_f__a SET archived_at = now() - interval '2 days'")
    pruned = scalar(conn, "SELECT pgflow.prune_data_older_than(interval '1 day', NULL)")
    assert pruned["runs"] == 1 and pruned["archived_messages"] == 1
    assert scalar(conn, "SELECT count(*) FROM pgmq.a_f__a") == 0
