import threading

import psycopg
from psycopg.types.json import Jsonb

from tests.helpers import eventually
from tests.sql.ensure_flow_compiled.shapes import TWO_STEPS

QUERY = "SELECT pgflow.ensure_flow_compiled('pipeline', %s)"


def test_a_second_caller_waits_for_the_first_and_then_verifies(db_url):
    results = []
    with psycopg.connect(db_url) as first, psycopg.connect(db_url) as second, \
            psycopg.connect(db_url, autocommit=True) as observer:
        results.append(first.execute(QUERY, (Jsonb(TWO_STEPS),)).fetchone()[0])
        second_pid = second.info.backend_pid

        def call():
            results.append(second.execute(QUERY, (Jsonb(TWO_STEPS),)).fetchone()[0])
            second.commit()

        thread = threading.Thread(target=call)
        thread.start()
        eventually(lambda: observer.execute(
            "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s", (second_pid,)).fetchone()[0],
            message="the second call waits for the advisory lock")
        first.commit()
        thread.join(timeout=30)

    assert [r["status"] for r in results] == ["compiled", "verified"]
