import threading

import psycopg

from tests.helpers import eventually
from tests.sql.helpers import define_flow, register_worker, rows, scalar, start_flow


def test_a_task_claimed_by_two_workers_at_once_goes_to_one_of_them(db_url):
    with psycopg.connect(db_url) as setup:
        define_flow(setup, "f", [("a", [])])
        run_id = start_flow(setup, "f", {})
        workers = [register_worker(setup, "f"), register_worker(setup, "f")]
        [msg_id] = [r["message_id"] for r in rows(setup, "SELECT message_id FROM pgflow.step_tasks")]
        setup.commit()

    claim = "SELECT msg_id FROM pgflow.start_tasks('f', %s, %s, 'f')"
    second_result: list = []
    with psycopg.connect(db_url) as first, psycopg.connect(db_url) as second, \
            psycopg.connect(db_url, autocommit=True) as observer:
        assert first.execute(claim, ([msg_id], workers[0])).fetchall() == [(msg_id,)]
        # the second claim waits for the first transaction's row lock
        thread = threading.Thread(target=lambda: second_result.extend(
            second.execute(claim, ([msg_id], workers[1])).fetchall()))
        thread.start()
        eventually(lambda: scalar(observer, "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                                  (second.info.backend_pid,)) == "Lock")
        first.commit()
        thread.join(timeout=30)
        second.commit()

        assert not thread.is_alive()
        assert second_result == []
        task = rows(first, "SELECT attempts_count, last_worker_id FROM pgflow.step_tasks WHERE run_id = %s",
                    (run_id,))
        assert task == [{"attempts_count": 1, "last_worker_id": workers[0]}]
