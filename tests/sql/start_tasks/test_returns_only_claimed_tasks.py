"""A claim that waits on a task's row lock while another transaction skips the task's step gives
no row for that task: only tasks actually claimed come back (and become started)."""

import threading

import psycopg

from tests.helpers import eventually
from tests.sql.helpers import define_flow, register_worker, rows, scalar, start_flow


def test_a_task_skipped_while_the_claim_waits_is_not_returned(db_url):
    with psycopg.connect(db_url) as setup:
        define_flow(setup, "f", [("a", []), ("b", [])])
        run_id = start_flow(setup, "f", {})
        worker = register_worker(setup, "f")
        msg_ids = [r[0] for r in setup.execute("SELECT msg_id FROM pgmq.read('f', 30, 10) ORDER BY msg_id")]
        setup.commit()

    claimed: list = []
    with psycopg.connect(db_url) as skipper, psycopg.connect(db_url) as claimer, \
            psycopg.connect(db_url, autocommit=True) as observer:
        skipper.execute("SELECT pgflow._cascade_force_skip_steps(%s, 'b', 'condition_unmet')", (run_id,))
        thread = threading.Thread(target=lambda: claimed.extend(rows(
            claimer, "SELECT step_slug FROM pgflow.start_tasks('f', %s, %s, 'f')", (msg_ids, worker))))
        thread.start()
        eventually(lambda: scalar(observer, "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                                  (claimer.info.backend_pid,)) == "Lock")
        skipper.commit()
        thread.join(timeout=30)
        claimer.commit()

        assert not thread.is_alive()
        assert claimed == [{"step_slug": "a"}]
        statuses = rows(observer, "SELECT step_slug, status, attempts_count FROM pgflow.step_tasks"
                                  " WHERE run_id = %s ORDER BY step_slug", (run_id,))
        assert statuses == [{"step_slug": "a", "status": "started", "attempts_count": 1},
                            {"step_slug": "b", "status": "skipped", "attempts_count": 0}]
