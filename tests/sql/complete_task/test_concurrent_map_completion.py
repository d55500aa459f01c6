"""Sibling map tasks completed at the same time from several connections lose no update."""

import threading

import psycopg

from tests.sql.helpers import complete_task, define_flow, read_and_start, register_worker, run_row, start_flow, step_state

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

    barrier = threading.Barrier(THREADS, timeout=30)
    errors: list[BaseException] = []

    def complete_share(share):
        try:
            with psycopg.connect(db_url) as conn:
                barrier.wait()
                for t in share:
                    complete_task(conn, run_id, "each", t["task_index"], t["input"] * t["input"])
                    conn.commit()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=complete_share, args=(claimed[i::THREADS],)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors

    with psycopg.connect(db_url) as conn:
        state = step_state(conn, run_id, "each")
        assert (state["status"], state["remaining_tasks"]) == ("completed", 0)
        assert state["output"] == [i * i for i in range(ITEMS)]
        run = run_row(conn, run_id)
        assert (run["status"], run["remaining_steps"]) == ("completed", 0)
        assert run["output"] == {"each": [i * i for i in range(ITEMS)]}
