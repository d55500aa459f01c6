import threading

import psycopg
from psycopg.types.json import Jsonb

from tests.helpers import eventually
from tests.sql.ensure_flow_compiled.shapes import TWO_STEPS

QUERY = "SELECT pgflow.ensure_flow_compiled(%s, %s)"


def test_compilers_of_slugs_differing_in_case_take_turns_and_the_second_is_refused(db_url):
    # the advisory lock is upstream's (1, hashtext(lower(flow_slug))): a TypeScript and a Python
    # compiler of one flow, however they spell it, never interleave
    outcome: list[object] = []
    with psycopg.connect(db_url) as first, psycopg.connect(db_url) as second, \
            psycopg.connect(db_url, autocommit=True) as observer:
        assert first.execute(QUERY, ("race", Jsonb(TWO_STEPS))).fetchone()[0]["status"] == "compiled"
        second_pid = second.info.backend_pid

        def call() -> None:
            try:
                second.execute(QUERY, ("RACE", Jsonb(TWO_STEPS)))
            except psycopg.Error as error:
                outcome.append(error)
            second.rollback()

        thread = threading.Thread(target=call)
        thread.start()
        eventually(lambda: observer.execute(
            "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s", (second_pid,)).fetchone()[0],
            message="the second compiler waits for the first one's lock")
        first.commit()
        thread.join(timeout=30)

    assert len(outcome) == 1 and isinstance(outcome[0], psycopg.errors.UniqueViolation)
    assert 'flow "race" differs from it only in case' in str(outcome[0])
