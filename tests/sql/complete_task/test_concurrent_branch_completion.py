"""Two parallel map steps finishing at the same moment release their join step exactly once."""

import threading

import psycopg

from tests.sql.helpers import (complete_task, define_flow, read_and_start, register_worker, rows, run_row, start_flow,
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

    barrier = threading.Barrier(THREADS, timeout=30)
    errors: list[BaseException] = []

    def complete_share(share):
        try:
            with psycopg.connect(db_url) as conn:
                barrier.wait()
                for t in share:
                    complete_task(conn, run_id, t["step_slug"], t["task_index"], -t["input"])
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
        join = step_state(conn, run_id, "join")
        assert (join["status"], join["remaining_deps"], join["remaining_tasks"]) == ("started", 0, 1)
        assert len(rows(conn, "SELECT * FROM pgflow.step_tasks WHERE run_id = %s AND step_slug = 'join'",
                        (run_id,))) == 1
        assert run_row(conn, run_id)["remaining_steps"] == 1
        [task] = read_and_start(conn, "diamond", register_worker(conn, "diamond"))
        expected = [-i for i in range(ITEMS)]
        assert task["input"] == {"left": expected, "right": expected}
