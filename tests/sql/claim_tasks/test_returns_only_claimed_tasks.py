"""claim_tasks never hands out a task whose step another transaction is skipping: the skip locks
the task and its message, the claim passes both by (and after the skip commits, the message is
archived, so no later claim finds it)."""

import psycopg

from tests.sql.helpers import define_flow, register_worker, rows, start_flow


def test_a_task_being_skipped_is_not_claimed(db_url):
    with psycopg.connect(db_url) as setup:
        define_flow(setup, "f", [("a", []), ("b", [])])
        run_id = start_flow(setup, "f", {})
        worker = register_worker(setup, "f")
        setup.commit()

    claim = "SELECT step_slug FROM pgflow.claim_tasks('f', 10, %s) WHERE step_slug IS NOT NULL"
    with psycopg.connect(db_url) as skipper, psycopg.connect(db_url, autocommit=True) as claimer:
        skipper.execute("SELECT pgflow._cascade_force_skip_steps(%s, 'b', 'condition_unmet')", (run_id,))
        assert rows(claimer, claim, (worker,)) == [{"step_slug": "a"}]
        skipper.commit()
        assert rows(claimer, claim, (worker,)) == []

        statuses = rows(claimer, "SELECT step_slug, status, attempts_count FROM pgflow.step_tasks"
                                 " WHERE run_id = %s ORDER BY step_slug", (run_id,))
        assert statuses == [{"step_slug": "a", "status": "started", "attempts_count": 1},
                            {"step_slug": "b", "status": "skipped", "attempts_count": 0}]
