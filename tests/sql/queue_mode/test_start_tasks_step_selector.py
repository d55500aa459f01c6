import psycopg
import pytest

from tests.sql.helpers import compile_flow, define_flow, read_and_start_step, register_worker, rows, start_flow


def _step_flow(conn):
    compile_flow(conn, "f", [("a", []), ("b", [])], "step")
    return start_flow(conn, "f"), register_worker(conn, "f__a")


def test_the_step_selector_claims_that_steps_tasks_from_its_queue(conn):
    run_id, worker = _step_flow(conn)
    claimed = read_and_start_step(conn, "f", "a", "f__a", worker)
    assert [(t["run_id"], t["step_slug"]) for t in claimed] == [(run_id, "a")]


def test_a_step_mode_flow_needs_a_step_selector(conn):
    _, worker = _step_flow(conn)
    with pytest.raises(psycopg.Error,
                       match='Flow "f" uses per-step queues: an exact step_slug is required to claim tasks.'):
        rows(conn, "SELECT * FROM pgflow.start_tasks('f', ARRAY[1]::bigint[], %s, 'f__a')", (worker,))


def test_a_selector_must_match_the_steps_stored_route(conn):
    _, worker = _step_flow(conn)
    with pytest.raises(psycopg.Error, match='Step "b" does not route to queue "f__a" in flow "f".'):
        rows(conn, "SELECT * FROM pgflow.start_tasks('f', ARRAY[1]::bigint[], %s, 'f__a', 'b')", (worker,))


def test_a_flow_mode_flow_refuses_a_step_selector(conn):
    define_flow(conn, "g", [("a", [])])
    start_flow(conn, "g")
    with pytest.raises(psycopg.Error, match='Flow "g" uses the default flow queue: a step selector is not allowed.'):
        rows(conn, "SELECT * FROM pgflow.start_tasks('g', ARRAY[1]::bigint[], %s, 'g', 'a')",
             (register_worker(conn, "g"),))


def test_claim_tasks_follows_the_same_rules(conn):
    run_id, worker = _step_flow(conn)
    with pytest.raises(psycopg.Error, match="an exact step_slug is required"):
        with conn.transaction():  # a savepoint: the test goes on after the error
            rows(conn, "SELECT * FROM pgflow.claim_tasks('f__a', 10, %s)", (worker,))
    claimed = rows(conn, "SELECT step_slug, run_id FROM pgflow.claim_tasks('f__b', 10, %s, 'b')", (worker,))
    assert claimed == [{"step_slug": "b", "run_id": run_id}]
