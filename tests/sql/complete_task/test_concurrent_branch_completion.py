"""Two parallel map steps finishing at the same moment release their join step exactly once."""

import psycopg

from tests.sql.complete_task.concurrently import complete_concurrently
from tests.sql.helpers import (define_flow, read_and_start, register_worker, rows, run_row, start_flow,
                               step_state)

ITEMS = 40
THREADS = 4


def test_parallel_branches_completed_concurrently_start_the_join_once(db_url):
    with psycopg.connect(db_url) as conn:
        define_flow(conn, "diamond", [("left", [], {"step_type": "map"}), ("right", [], {"step_type": "map"}),
                                      ("join", ["left", "right"])])
        run_id = start_flow(conn, "diamond", list(range(ITEMS)))
        worker = register_worker(conn, "diamond")
        claimed = read_and_start(conn, "diamond", worker, qty=2 * ITEMS)
        conn.commit()
    assert len(claimed) == 2 * ITEMS

    complete_concurrently(db_url, run_id, claimed, lambda t: -t["input"], threads=THREADS)

    with psycopg.connect(db_url) as conn:
        join = step_state(conn, run_id, "join")
        assert (join["status"], join["remaining_deps"], join["remaining_tasks"]) == ("started", 0, 1)
        assert len(rows(conn, "SELECT * FROM pgflow.step_tasks WHERE run_id = %s AND step_slug = 'join'",
                        (run_id,))) == 1
        assert run_row(conn, run_id)["remaining_steps"] == 1
        [task] = read_and_start(conn, "diamond", register_worker(conn, "diamond"))
        expected = [-i for i in range(ITEMS)]
        assert task["input"] == {"left": expected, "right": expected}
