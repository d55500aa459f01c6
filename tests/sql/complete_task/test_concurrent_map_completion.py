"""Sibling map tasks completed at the same time from several connections lose no update."""

import psycopg

from tests.sql.complete_task.concurrently import complete_concurrently
from tests.sql.helpers import define_flow, read_and_start, register_worker, run_row, start_flow, step_state

ITEMS = 120
THREADS = 6


def test_concurrent_completions_give_the_exact_output(db_url):
    with psycopg.connect(db_url) as conn:
        define_flow(conn, "squares", [("each", [], {"step_type": "map"})])
        run_id = start_flow(conn, "squares", list(range(ITEMS)))
        worker = register_worker(conn, "squares")
        claimed = read_and_start(conn, "squares", worker, qty=ITEMS)
        conn.commit()
    assert len(claimed) == ITEMS

    complete_concurrently(db_url, run_id, claimed, lambda t: t["input"] * t["input"], threads=THREADS)

    with psycopg.connect(db_url) as conn:
        state = step_state(conn, run_id, "each")
        assert (state["status"], state["remaining_tasks"]) == ("completed", 0)
        assert state["output"] == [i * i for i in range(ITEMS)]
        run = run_row(conn, run_id)
        assert (run["status"], run["remaining_steps"]) == ("completed", 0)
        assert run["output"] == {"each": [i * i for i in range(ITEMS)]}
