"""complete_tasks plans every call for the batch at hand: generic plans, costed for a 10-row
unnest, joined a batch to itself row by row (a 200-task report ~35 ms -> ~175 ms and growing
after the fifth call on fresh statistics)."""

from tests.sql.helpers import scalar


def test_complete_tasks_forces_custom_plans(conn):
    config = scalar(conn, "SELECT proconfig FROM pg_proc WHERE oid = 'pgflow.complete_tasks'::regproc")

    assert "plan_cache_mode=force_custom_plan" in config
